"""AppTest drives every tab of the Medical Imaging page, DICOM included."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from streamlit.testing.v1 import AppTest

from domains.labels import display_name, readable
from models.checkpoints import list_bundles
from tests.dashboard.waits import (
    model_box,
    number,
    open_page,
    show_tab,
    tab_of,
    wait_for_batch,
    wait_for_job,
    wait_for_rows,
    wait_stopped,
)

KEY = "medical_imaging"


@pytest.fixture
def page(imaging_cnn_dir: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> AppTest:
    monkeypatch.setenv("DOMAINLENS_HOME", str(imaging_cnn_dir.parents[2]))  # the trained CNN is listed first
    return open_page(KEY, tab=tab_of(request))


def _charts(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def test_every_tab_renders(page: AppTest) -> None:
    at = page
    assert not at.exception and not at.error
    assert "cnn · v1" in str(model_box(at).value) or \
        "v1" in model_box(at).format_func(model_box(at).value)
    specs = " ".join(_charts(at))
    assert "Class balance" in specs
    show_tab(at, "Train")
    assert f"{KEY}-train-job-cv" not in [s.key for s in at.selectbox]  # no k-fold picker: imaging does not use it
    show_tab(at, "Predict")
    labels = [t.label for t in at.tabs]
    for tab in ("Explore", "Predict", "Live", "Train", "Evaluate", "One image (Grad-CAM)", "Batch of files"):
        assert tab in labels
    assert any("Not for diagnostic use" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Prediction"] in {"normal", "pneumonia"} and 0 <= number(metrics[SCORE]) <= 1
    specs += " ".join(_charts(at))
    assert "Grad-CAM" in specs
    show_tab(at, "Evaluate")
    metrics = {m.label: m.value for m in at.metric}
    assert number(metrics["AUC"]) > 0.9
    assert {"Sensitivity", "Specificity", "F1", "Calibration error (ECE)"} <= set(metrics)
    specs = " ".join(_charts(at))
    assert not show_tab(at, "Live").exception and not at.error
    # The gallery of the most confident mistakes shows whenever the split has mistakes.
    assert ("Most confident mistakes" in specs) == (number(metrics["Accuracy"]) < 1), metrics
    assert "ROC curve" in specs and "Calibration" in specs and "Confusion matrix" in specs


SCORE = "Probability of the finding"  # the score as every imaging view names it, a percentage


@pytest.mark.tab("Predict")
def test_dicom_sample_with_window_and_frames(page: AppTest) -> None:
    at = page
    at.radio(key=f"{KEY}-image-src").set_value("sample").run()
    assert not at.exception
    at.selectbox(key=f"{KEY}-image-sample").set_value("Chest X-ray (CR)").run()
    center = at.slider(key=f"{KEY}-image-RG1_UNCR.dcm-center")
    width = at.slider(key=f"{KEY}-image-RG1_UNCR.dcm-width")
    assert width.value > 0
    before = number(next(m.value for m in at.metric if m.label == SCORE))
    width.set_value(width.value / 4).run()
    center.set_value(center.value).run()
    assert not at.exception and not at.error
    after = number(next(m.value for m in at.metric if m.label == SCORE))
    assert 0 <= after <= 1 and 0 <= before <= 1  # shown as percentages
    assert not any("only knows chest X-rays" in w.value for w in at.warning)
    at.selectbox(key=f"{KEY}-image-sample").set_value("Brain MR, 10 frames").run()
    assert any("MR scan" in w.value and "only knows chest X-rays" in w.value for w in at.warning)
    assert any("Grad-CAM" in spec for spec in _charts(at))
    at.selectbox(key=f"{KEY}-image-sample").set_value("Brain MR, 10 frames").run()
    at.slider(key=f"{KEY}-image-emri_small.dcm-frame").set_value(9).run()
    assert not at.exception and any("(frame 10" in spec for spec in _charts(at))


@pytest.mark.tab("Predict")
def test_upload_dicom_and_bad_file(page: AppTest) -> None:
    at = page
    at.radio(key=f"{KEY}-image-src").set_value("upload").run()
    dicom = Path(str(get_testdata_file("RG1_UNCR.dcm", download=False))).read_bytes()
    at.file_uploader(key=f"{KEY}-image-file").set_value(("chest.dcm", dicom, "application/dicom")).run()
    assert not at.exception and not at.error
    assert any("Grad-CAM" in spec for spec in _charts(at))
    at.file_uploader(key=f"{KEY}-image-file").set_value(("notes.png", b"not really a png", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)  # a clear message; the page keeps working
    assert "Evaluate" in [t.label for t in at.tabs]


@pytest.mark.tab("Predict")
def test_batch_of_files(page: AppTest) -> None:
    at = page
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 40, 3), 120, np.uint8)).save(buffer, format="PNG")
    files = [("a.png", buffer.getvalue(), "image/png"), ("b.png", b"broken", "image/png")]
    at.file_uploader(key=f"{KEY}-batch").set_value(files).run()
    wait_for_batch(at, KEY)
    assert not at.exception
    assert any("Scored 1 images" in s.value for s in at.success)
    assert any("b.png" in w.value for w in at.warning)
    table = next(df.value for df in at.dataframe if display_name("prediction") in df.value.columns)
    assert "colour converted to grey" in table[display_name("input_note")][0] and "pixels" not in table.columns


@pytest.mark.tab("Live")
def test_live_worklist(page: AppTest) -> None:
    at = page
    at.select_slider(key=f"{KEY}-live-run-rate").set_value(1000)
    at.button(key=f"{KEY}-live-run-start").click().run()
    run = at.session_state[f"{KEY}-live-run"]
    wait_for_rows(run, 200)
    at.run()
    assert not run.error and not at.exception
    worklist = next(df.value for df in at.dataframe if "Risk" in df.value.columns)
    risks = list(worklist["Risk"])
    flagged = [status != "" for status in worklist["Status"]]
    assert worklist["Study"].is_unique  # a study that arrives again replaces its entry
    assert flagged == sorted(flagged, reverse=True)  # flagged studies head the list
    assert all(a >= b for a, b, fa, fb in zip(risks, risks[1:], flagged, flagged[1:], strict=False) if fa == fb)
    at.button(key=f"{KEY}-live-run-stop").click().run()
    assert wait_stopped(run)


@pytest.mark.tab("Train")
def test_train_tab_registers_a_checkpoint(page: AppTest) -> None:
    at = page
    at.selectbox(key=f"{KEY}-train-job-model").set_value("cnn")
    at.number_input(key=f"{KEY}-train-job-epochs").set_value(1)
    at.button(key=f"{KEY}-train-job-start").click().run()
    wait_for_job(at, f"{KEY}-train-job")
    at.run()
    assert not at.exception
    assert any("Trained and saved " + readable("cnn", "medical_imaging") in s.value for s in at.success)
    assert len([b for b in list_bundles(KEY)]) == 2
