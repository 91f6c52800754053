"""A domain the dashboard has never seen (tests/toy_domain.py, built only on domains.base)
gets the whole page: registering it is the only step, no dashboard file is edited."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from domains import registry
from domains.labels import display_name
from models.checkpoints import list_bundles
from tests.dashboard.waits import number, show_tab, wait_for_job, wait_for_model, wait_for_rows, wait_stopped
from tests.toy_domain import KEY

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture
def toy_registered(monkeypatch, tmp_path):
    monkeypatch.setenv("DOMAINLENS_HOME", str(tmp_path))
    monkeypatch.setitem(registry.DOMAINS, KEY, "tests.toy_domain:ToyDomain")
    registry.get.cache_clear()
    yield
    registry.get.cache_clear()


def _toy_page() -> None:
    from dashboard.domain_page import render_domain_page

    render_domain_page("toy_quality")


def test_every_tab_of_an_unknown_domain_works(toy_registered) -> None:
    at = wait_for_model(AppTest.from_function(_toy_page, default_timeout=60).run())
    assert not at.exception and not at.error, [e.value for e in at.error]
    tabs = [t.label for t in at.tabs]
    assert [t for t in tabs if t in {"Explore", "Predict", "Live", "Train", "Evaluate"}] == [
        "Explore", "Predict", "Live", "Train", "Evaluate"]
    charts = len(at.get("plotly_chart"))
    show_tab(at, "Predict")
    assert 0.0 <= number({m.label: m.value for m in at.metric}[display_name("p_faulty")]) <= 1.0  # what-if scored
    show_tab(at, "Evaluate")
    assert number({m.label: m.value for m in at.metric}[display_name("accuracy")]) > 0.75  # the headline tile
    assert any(s.value == "Confusion counts" for s in at.subheader)  # the report's own table title
    assert charts + len(at.get("plotly_chart")) >= 2  # Explore's and Evaluate's charts

    show_tab(at, "Live")
    at.button(key=f"{KEY}-live-run-start").click().run()
    run = at.session_state[f"{KEY}-live-run"]
    wait_for_rows(run, 50)
    at.run()
    assert number({m.label: m.value for m in at.metric}["Events scored"]) > 0
    at.button(key=f"{KEY}-live-run-stop").click().run()
    assert wait_stopped(run)

    show_tab(at, "Train")
    at.button(key=f"{KEY}-train-job-start").click().run()
    wait_for_job(at, f"{KEY}-train-job")
    at.run()
    assert not at.exception
    bundles = list_bundles(KEY)
    assert len(bundles) == 1 and bundles[0].model == "linear" and bundles[0].metrics["accuracy"] > 0.75
    at.run()  # the new checkpoint is the page's model, labelled with the domain's summary metric
    model = next(box for box in at.sidebar.selectbox if box.label == "Model")
    assert model.value == str(bundles[0].path)
    assert f"{display_name('accuracy')} " in model.format_func(model.value)


def test_the_app_lists_a_domain_without_a_screen_file(toy_registered) -> None:
    assert not (Path(APP).parent / "screens" / f"{KEY}.py").exists()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "Toy quality control" in [h.value for h in at.subheader]  # Home's card for it
