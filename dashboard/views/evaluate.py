"""Evaluate: metrics and charts on a split, with domain options (e.g. a cost matrix)."""

from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.errors import guarded
from dashboard.state import initial, kept, persisted
from dashboard.views.common import PageContext, chart, data_title, figure_grid, need_model, table
from domains.base import Predictor, Report
from domains.capabilities import HasEvaluationOptions, ModelComparer, Thresholded
from domains.labels import display_name, format_value, label_of
from domains.report import build_html, report_model
from models.checkpoints import list_bundles


def render(ctx: PageContext) -> None:
    predictor = need_model(ctx, "evaluate")
    if predictor is None:
        return
    options: dict[str, float] = {}
    cols = st.columns(3)
    splits = list(ctx.domain.evaluation_splits(ctx.data))
    split = cols[0].selectbox("Split", splits, **kept(f"{ctx.domain.key}-eval-split"),
                              help="test: held out; val: where the threshold was tuned; all: every row.")
    if isinstance(ctx.domain, HasEvaluationOptions):
        for col, field in zip(cols[1:], ctx.domain.evaluation_fields(), strict=False):
            key = f"{ctx.domain.key}-{field.name}"
            options[field.name] = col.number_input(display_name(field.name, ctx.domain.key), min_value=field.minimum,
                                                   value=float(initial(key, field.default)), help=field.help,
                                                   **persisted(key))
    # The model already decides at the user's threshold (the page applied it); it keys the cache.
    threshold = predictor.threshold if isinstance(predictor, Thresholded) else None
    if ctx.domain.evaluate_on_demand and not _requested(ctx, split):
        return
    with guarded("Evaluation"):
        report = resources.evaluation(ctx.domain.key, ctx.model_id, ctx.data_id, threshold, predictor, ctx.data,
                                      split, tuple(sorted(options.items())))
        shown = [(k, report.metrics[k]) for k in report.headline or tuple(report.metrics) if k in report.metrics]
        for start in range(0, len(shown), 5):
            row = st.columns(5)
            for col, (name, value) in zip(row, shown[start : start + 5], strict=False):
                label = label_of(name, ctx.domain.key)
                col.metric(label.name, format_value(name, value, ctx.domain.key), help=label.help or None)
        for note in report.notes:
            st.info(note, icon=":material/info:")
        if "optimal_threshold" in report.metrics:
            st.caption(f"Threshold in use {report.metrics['threshold']:.2f} (this model's; set it in the Predict "
                       f"tab); cost-optimal on this split {report.metrics['optimal_threshold']:.2f}.")
        charts = resources.evaluation_charts(ctx.domain.key, ctx.model_id, ctx.data_id, threshold, split,
                                             tuple(sorted(options.items())), report)
        figure_grid(charts, key="evaluate", domain=ctx.domain.key)
        for name, title in report.tables.items():
            if name in report.frames and report.frames[name].height:
                st.subheader(title)
                table(report.frames[name], ctx.domain.key)
        _download_report(ctx, predictor, report, split)
    if isinstance(ctx.domain, ModelComparer):
        with st.expander("Compare models on this split"), guarded("Comparison"):
            _compare(ctx, ctx.domain, predictor, split)


def _download_report(ctx: PageContext, predictor: Predictor, report: Report, split: str) -> None:
    """This evaluation as one HTML file to hand on; built when clicked (a few seconds), not on
    every rerun."""
    def document() -> bytes:
        model = report_model(ctx.domain, predictor, ctx.model_id, report, ctx.data)
        return build_html(ctx.domain, [model], split=split, data_name=data_title(ctx)).encode()

    st.download_button("Download report", document, f"{ctx.domain.key}-{predictor.model_key}-{split}-report.html",
                       "text/html", key=f"{ctx.domain.key}-eval-report", icon=":material/download:",
                       help="One HTML file with this evaluation: the model card, the metrics with confidence "
                            "intervals, every chart and table above. It opens offline in any browser.")


def _requested(ctx: PageContext, split: str) -> bool:
    """Domains whose evaluation takes a while (translating hundreds of sentences) run it
    when asked, once per model, data and split; the result then stays on the page."""
    done = st.session_state.setdefault(f"{ctx.domain.key}-evaluated", set())
    marker = (ctx.model_id, ctx.data_id, split)
    if marker in done:
        return True
    st.info("Evaluation translates every sentence of the split; it takes a little while for large models.")
    if st.button(f"Evaluate on the {split} split", type="primary", key=f"{ctx.domain.key}-eval-go"):
        done.add(marker)
        return True
    return False


def _compare(ctx: PageContext, domain: ModelComparer, predictor: Predictor, split: str) -> None:
    bundles = {f"{b.model} · {b.version}": str(b.path) for b in list_bundles(ctx.domain.key)}
    picked = st.multiselect("Saved models to compare with the current one", list(bundles),
                            default=list(bundles)[:4], **kept(f"{ctx.domain.key}-compare-pick"))
    if not st.button("Compare", key=f"{ctx.domain.key}-compare-run"):
        return
    predictors = {"current model": predictor}
    bar = st.progress(0.0, text="Loading models...")
    for i, name in enumerate(picked):
        predictors[name] = resources.predictor_from_checkpoint(ctx.domain.key, bundles[name])
        bar.progress((i + 1) / max(len(picked), 1), text=f"Loaded {name}")
    with st.spinner(f"Scoring {len(predictors)} models on the {split} split..."):
        scores, figure = domain.compare(predictors, ctx.data, split)
    bar.empty()
    chart(figure, key=f"{ctx.domain.key}-compare-chart", domain=ctx.domain.key)
    table(scores, ctx.domain.key)
