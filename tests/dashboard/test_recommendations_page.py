"""AppTest drives every tab of the Recommendations page."""


import pytest
from streamlit.testing.v1 import AppTest

from domains.labels import display_name, readable
from tests.dashboard.waits import (
    model_box,
    number,
    open_page,
    show_tab,
    tab_of,
    wait_for_job,
    wait_for_rows,
    wait_stopped,
)


@pytest.fixture
def page(ease_dir, monkeypatch, request) -> AppTest:
    monkeypatch.setenv("DOMAINLENS_HOME", str(ease_dir.parents[2]))  # the trained EASE checkpoint is listed first
    return open_page("recommendations", tab=tab_of(request))


def test_every_tab_renders(page: AppTest) -> None:
    at = page
    assert not at.exception and not at.error
    assert "nDCG@10" in model_box(at).value or \
        "ease" in str(model_box(at).value)
    explore_charts = len(at.get("plotly_chart"))
    show_tab(at, "Evaluate")
    metrics = {m.label: number(m.value) for m in at.metric}
    assert metrics["nDCG@10"] > 0.47 and metrics["Precision@10"] > 0.41
    evaluation_charts = len(at.get("plotly_chart"))
    show_tab(at, "Predict")
    labels = [t.label for t in at.tabs]
    for tab in ("Explore", "Predict", "Live", "Train", "Evaluate", "For a user", "Similar movies",
                "Cold start (new visitor)"):
        assert tab in labels
    frames = [df.value for df in at.dataframe]
    why = display_name("why")
    recs = next(f for f in frames if why in f.columns and len(f) == 10)
    assert recs[why].str.startswith("because you liked").all()
    assert any(display_name("similarity") in f.columns for f in frames)  # similar movies
    assert explore_charts + len(at.get("plotly_chart")) + evaluation_charts >= 7  # explore + profile + evaluation
    for tab in ("Live", "Train"):
        assert not show_tab(at, tab).exception and not at.error


@pytest.mark.tab("Predict")
def test_pick_user_and_cold_start(page: AppTest) -> None:
    at = page
    at.selectbox(key="recommendations-user").set_value("42").run()
    assert not at.exception
    assert any("Top 10 for user 42" in m.value for m in at.markdown)
    picks = at.multiselect(key="recommendations-cold-picks")
    first_three = picks.options[:3]
    at.multiselect(key="recommendations-cold-picks").set_value([o for o in first_three]).run()
    assert not at.exception
    why = display_name("why")
    cold = [df.value for df in at.dataframe if why in df.value.columns][-1]
    assert len(cold) == 10 and not cold[why].str.contains("popular with everyone").any()


@pytest.mark.tab("Live")
def test_live_replay_folds_in_users(page: AppTest) -> None:
    at = page
    at.select_slider(key="recommendations-live-run-rate").set_value(1000)
    at.button(key="recommendations-live-run-start").click().run()
    run = at.session_state["recommendations-live-run"]
    wait_for_rows(run, 300)
    at.run()
    metrics = {m.label: m.value for m in at.metric}
    assert number(metrics["Events scored"]) >= 300 and not run.error
    assert any(display_name("was in top-10") in df.value.columns for df in at.dataframe)
    at.button(key="recommendations-live-run-stop").click().run()
    assert wait_stopped(run) and not at.exception


@pytest.mark.tab("Train")
def test_train_tab_registers_a_recommender(page: AppTest) -> None:
    from models.checkpoints import list_bundles

    at = page
    at.selectbox(key="recommendations-train-job-model").set_value("itemknn")
    at.button(key="recommendations-train-job-start").click().run()
    wait_for_job(at, "recommendations-train-job", 90)
    at.run()
    assert not at.exception
    assert any("Trained and saved " + readable("itemknn", "recommendations") in s.value for s in at.success)
    assert any(b.model == "itemknn" for b in list_bundles("recommendations"))
