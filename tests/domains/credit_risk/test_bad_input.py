"""Section 6 bad inputs: one clear message that says what to fix, and the app keeps working."""

import polars as pl
import pytest
import torch
from streamlit.testing.v1 import AppTest

from domains import registry
from domains.base import DataError
from domains.io import MAX_UPLOAD_BYTES
from models.checkpoints import load_bundle

GOOD = b"age,amount,status\n30,1000,good\n40,2000,bad\n50,1500,good\n"

CASES = {
    "malformed": ("bad.csv", b'age,amount,status\n30,1000,good\n40,"2000,bad\n50,1,good,extra,fields\n',
                  "not a well-formed CSV"),
    "single column": ("pipes.csv", b"age:amount:status\n30:1000:good\n40:2000:bad\n", "single column"),
    "empty": ("empty.csv", b"", "is empty"),
    "header only": ("header.csv", b"age,amount,status\n", "no data rows"),
    "binary renamed": ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data"),
    "over cap": ("huge.csv", b"a,b\n" + b"1,2\n" * (MAX_UPLOAD_BYTES // 4 + 10), "upload limit"),
    "one class": ("one.csv", b"age,amount,status\n30,1000,good\n40,2000,good\n", "only one class"),
    "missing target": ("nt.csv", b"age,amount\n30,1000\n40,2000\n", "Target column 'status' is not in"),
}


def _upload(name: str, payload: bytes):
    return registry.get("credit_risk").read_upload(name, payload, target="status", bad="bad")


@pytest.mark.parametrize("case", list(CASES))
def test_upload_message(case: str) -> None:
    name, payload, needle = CASES[case]
    with pytest.raises(DataError, match=needle):
        _upload(name, payload)


def test_wrong_delimiter_is_detected_not_fatal() -> None:
    data = _upload("semi.csv", GOOD.replace(b",", b";"))
    assert data.frame.columns == ["age", "amount", "status"] and data.frame.height == 3


def _page_script() -> None:
    import streamlit as st

    from dashboard.errors import guarded
    from domains import registry

    with guarded("Reading the file"):
        registry.get("credit_risk").read_upload(st.session_state["name"], st.session_state["payload"],
                                                target="status", bad="bad")
        st.success("loaded")
    st.button("next action")
    st.markdown("still working")


@pytest.mark.parametrize("case", list(CASES))
def test_page_shows_one_message_and_recovers(case: str) -> None:
    name, payload, needle = CASES[case]
    at = AppTest.from_function(_page_script, default_timeout=30)
    at.session_state["name"], at.session_state["payload"] = name, payload
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and needle in at.error[0].value
    assert "Traceback" not in at.error[0].value
    # The next action works: same session, good file, no error.
    at.session_state["name"], at.session_state["payload"] = "good.csv", GOOD
    at.button[0].click().run()
    assert not at.exception and not at.error and at.success[0].value == "loaded"
    assert at.markdown[-1].value == "still working"


@pytest.fixture(scope="module")
def predictor(trained_gbm_dir):
    return registry.get("credit_risk").load(load_bundle(trained_gbm_dir), torch.device("cpu"))


def test_predict_missing_columns_named(predictor, german_credit_csv) -> None:
    frame = pl.read_csv(german_credit_csv).head(3).drop("age_in_years", "credit_amount")
    with pytest.raises(DataError, match=r"lacks 2 of the 20 columns") as refused:
        predictor.predict(frame)
    message = str(refused.value)  # named as the form names them, with the header a file needs
    assert "Age (years) ('age_in_years')" in message and "('credit_amount')" in message


def test_predict_extra_columns_ignored(predictor, german_credit_csv) -> None:
    frame = pl.read_csv(german_credit_csv).head(3)
    plain = predictor.predict(frame)
    extra = predictor.predict(frame.with_columns(pl.lit("x").alias("unused_note")))
    assert plain.equals(extra)


def test_predict_wrong_types_named(predictor, german_credit_csv) -> None:
    frame = pl.read_csv(german_credit_csv).head(3).with_columns(
        pl.Series("credit_amount", ["1200", "lots", "900"])
    )
    with pytest.raises(DataError, match=r"\('credit_amount'\) must be a number.*'lots'"):
        predictor.predict(frame)
    blanks = frame.with_columns(pl.Series("credit_amount", ["1200", "", None]))
    assert predictor.predict(blanks).height == 3  # blanks are missing values, imputed
