"""A model report an analyst can hand on: one self-contained HTML file per evaluation.

It holds, for each chosen model, its card (what it is, the data it learnt from, intended use,
recipe, library versions, the scoring path checked on this machine), the evaluation on one
split with every chart the Evaluate tab draws (the same ``Domain.evaluate`` and
``Domain.charts``, shown through the same ``readable_figure``), bootstrap confidence intervals
where the report has per-row outcomes, and the tables the page shows; with two models or more,
a side-by-side table and their curves on the same axes. plotly.js is inlined once: the file
makes no network request. Every text comes from ``html.escape``: review texts and file names
in tables stay text.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, Domain, DomainData, ModelSpec, Predictor, Report
from domains.capabilities import HasScoringCheck, HasTextInputs
from domains.charts import attribution_chart, readable_figure
from domains.labels import display_frame, format_value, label_of
from domains.metrics import bootstrap_intervals
from models.checkpoints import METADATA, Bundle, library_versions, load_bundle, write_text_atomic

RESAMPLES, SEED, LEVEL = 200, 0, 0.95
MISTAKES_EXPLAINED = 3  # text: the most confident mistakes explained word by word
TABLE_ROWS = 50  # rows of a table shown in the report (the page's downloads keep them all)
# Curves drawn for every model on one figure when two or more are compared: (frame, x, y, title).
OVERLAYS = (("roc", "fpr", "tpr", "ROC curves"), ("pr", "recall", "precision", "Precision-recall curves"),
            ("calibration", "predicted", "observed", "Calibration"))
# Metadata keys of a checkpoint shown in its card's recipe (the rest: metrics, libraries, dates).
_CARD_SKIP = {"history", "libraries", "metrics", "domain", "model", "created", "format_version", "probe"}


@dataclass(frozen=True)
class ReportModel:
    """One model of a report: its name, its card and its evaluation."""

    name: str
    card: dict[str, str]
    report: Report
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    extras: list[tuple[str, go.Figure]] = field(default_factory=list)  # (what it shows, in words; the chart)


def model_card(domain: Domain, predictor: Predictor, bundle: Bundle | None, *, model_key: str,
               spec: ModelSpec | None, data: DomainData) -> dict[str, str]:
    """The facts a reader needs before trusting the numbers, in words (``spec``: the model's menu
    entry, None for a checkpoint of a model no longer on the menu)."""
    meta = bundle.metadata if bundle is not None else {}
    card = {"Model": spec.title if spec else model_key,
            "What it is": (spec.notes if spec and spec.notes else domain.description),
            "Checkpoint": f"{bundle.path} (version {bundle.version}, created {meta.get('created', '?')})"
            if bundle is not None else "menu model, as the page opens it (no saved checkpoint)",
            "Evaluated on": f"{data_title(domain, data)}: {data.frame.height:,} rows",
            "Intended use": str(meta.get("intended_use") or domain.intended_use)}
    recipe = {k: v for k, v in meta.items() if k not in _CARD_SKIP}
    if recipe:
        card["Training recipe"] = _short_json(recipe)
    if meta.get("metrics"):
        card["Metrics when saved"] = ", ".join(f"{label_of(k, domain.key).name} {format_value(k, v, domain.key)}"
                                               for k, v in meta["metrics"].items() if isinstance(v, int | float))
    versions = meta.get("libraries") or library_versions()
    card["Library versions"] = ", ".join(f"{k} {v}" for k, v in versions.items())
    scoring = predictor.scoring() if isinstance(predictor, HasScoringCheck) else None
    card["Scoring path"] = scoring.summary() if scoring is not None else "exact (the model as trained)"
    return card


def report_model(domain: Domain, predictor: Predictor, model: str | Path, report: Report,
                 data: DomainData) -> ReportModel:
    """One model's part of a report, from the evaluation a page or the CLI already has.
    ``model`` is a checkpoint folder or a menu key (what the dashboard's model menu holds)."""
    folder = Path(model)
    bundle = load_bundle(folder) if (folder / METADATA).is_file() else None
    key = bundle.model if bundle is not None else str(model)
    spec = next((s for s in domain.models() if s.key == key), None)
    title = spec.title if spec is not None else key
    name = f"{title} · {bundle.version}" if bundle is not None else title
    outcomes = report.frames.get("outcomes")
    intervals = bootstrap_intervals(outcomes, resamples=RESAMPLES, seed=SEED, level=LEVEL) \
        if outcomes is not None and outcomes.height else {}
    card = model_card(domain, predictor, bundle, model_key=key, spec=spec, data=data)
    return ReportModel(name, card, report, intervals, _extras(domain, predictor, report))


def _extras(domain: Domain, predictor: Predictor, report: Report) -> list[tuple[str, go.Figure]]:
    """What a report adds to the Evaluate tab's charts: for text, why the model made its most
    confident mistakes (the same attributions the Predict tab draws)."""
    mistakes = report.frames.get("mistakes")
    if not isinstance(domain, HasTextInputs) or mistakes is None or not mistakes.height:
        return []
    shown = []
    for i, row in enumerate(mistakes.head(MISTAKES_EXPLAINED).iter_rows(named=True)):
        text = str(row["text"])
        attribution = domain.explain_text(predictor, text)
        excerpt = text if len(text) <= 240 else text[:240] + " ..."
        caption = (f"Mistake {i + 1}: labelled {row['actual']}, read as {row['predicted']} at "
                   f"{float(row['confidence']):.0%} confidence: \u201c{excerpt}\u201d")
        shown.append((caption, attribution_chart(attribution.frame(), attribution.label)))
    return shown


def model_report(domain: Domain, picks: Sequence[str | Path], data: DomainData, split: str, *,
                 device: torch.device, options: Mapping[str, Any] | None = None,
                 on_model: Callable[[str], None] | None = None) -> str:
    """The report of each picked model (a checkpoint ``Path`` or a menu key) as one HTML document."""
    models = report_models(domain, picks, data, split, device=device, options=options, on_model=on_model)
    return build_html(domain, models, split=split, data_name=data_title(domain, data))


def report_models(domain: Domain, picks: Sequence[str | Path], data: DomainData, split: str, *,
                  device: torch.device, options: Mapping[str, Any] | None = None,
                  on_model: Callable[[str], None] | None = None) -> list[ReportModel]:
    """Each picked model opened the one way every face opens a model (``registry.open_predictor``)
    and evaluated on ``split``. A split the data lacks is refused before any model is opened."""
    from domains import registry

    splits = list(domain.evaluation_splits(data))
    if split not in splits:
        raise DataError(f"{data_title(domain, data)} has no '{split}' split to evaluate on; choose one of: "
                        f"{', '.join(splits)}")
    models = []
    for pick in picks:
        predictor = registry.open_predictor(domain, pick, device)
        report = domain.evaluate(predictor, data, split=split, options=options)
        models.append(report_model(domain, predictor, pick, report, data))
        if on_model is not None:
            on_model(models[-1].name)
    return models


def data_title(domain: Domain, data: DomainData) -> str:
    """The dataset as the data picker names it; an uploaded or given file by its name."""
    return next((s.title for s in domain.datasets() if s.key == data.name), data.name)


def build_html(domain: Domain, models: Sequence[ReportModel], *, split: str, data_name: str,
               plotly_js: Callable[[], str] | None = None) -> str:
    """The whole report as one HTML document."""
    if not models:
        raise DataError("a report needs at least one model")
    title = f"{domain.title} model report: {', '.join(m.name for m in models)}"
    parts = [f"<h1>{_e(title)}</h1>",
             f"<p class='meta'>Evaluated on the {_e(split)} split of {_e(data_name)}; written by DomainLens on "
             f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>"]
    if len(models) > 1:
        parts.append(_comparison(domain, models))
    for i, model in enumerate(models):
        parts.append(_model_section(domain, model, anchor=f"model-{i + 1}"))
    parts.append(f"<p class='meta'>Confidence intervals: {LEVEL:.0%} percentile bootstrap over the split's rows "
                 f"({RESAMPLES} resamples, seed {SEED}); metrics without one are shown without.</p>")
    return _page(title, "\n".join(parts), (plotly_js or _plotly_js)())


def check_writable(output: Path) -> None:
    """Refuse an output path that cannot be written before any model is scored."""
    folder = Path(output).parent
    if not folder.is_dir():
        raise DataError(f"cannot write the report to {output}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise DataError(f"cannot write the report to {output}: folder {folder} is not writable")
    if Path(output).is_dir():
        raise DataError(f"cannot write the report to {output}: it is a folder; give a file name like report.html")


def write_report(document: str, output: Path) -> Path:
    """Write atomically: a failed write leaves no half-written report behind."""
    output = Path(output)
    check_writable(output)
    try:
        written = write_text_atomic(output, document)
        written.chmod(0o644)  # mkstemp's file is private; a report is handed on (as bundles are published)
        return written
    except OSError as exc:
        raise DataError(f"cannot write the report to {output}: {exc.strerror or exc}") from exc


# ---- sections -----------------------------------------------------------------------------------


def _model_section(domain: Domain, model: ReportModel, *, anchor: str) -> str:
    report = model.report
    parts = [f"<section id='{anchor}'><h2>{_e(model.name)}</h2>", "<h3>Model card</h3>", _facts(model.card),
             "<h3>Metrics</h3>", _metrics_table(domain, report, model.intervals)]
    parts += [f"<p class='note'>{_e(note)}</p>" for note in report.notes]
    figures = domain.charts(report)
    if figures:
        parts.append("<h3>Charts</h3><div class='grid'>")
        parts += [_figure(fig, domain.key) for fig in figures.values()]
        parts.append("</div>")
    if model.extras:
        parts.append("<h3>Why the most confident mistakes</h3><div class='grid'>")
        parts += [f"<div><p class='note'>{_e(caption)}</p>{_figure(fig, domain.key)}</div>"
                  for caption, fig in model.extras]
        parts.append("</div>")
    for name, table_title in report.tables.items():
        frame = report.frames.get(name)
        if frame is not None and frame.height:
            parts += [f"<h3>{_e(table_title)}</h3>", _table(frame.head(TABLE_ROWS), domain.key)]
    parts.append("</section>")
    return "\n".join(parts)


def _comparison(domain: Domain, models: Sequence[ReportModel]) -> str:
    names = list(dict.fromkeys(k for m in models for k in (m.report.headline or tuple(m.report.metrics))
                               if k in m.report.metrics))
    header = "".join(f"<th>{_e(m.name)}</th>" for m in models)
    rows = []
    for key in names:
        cells = "".join(f"<td>{_e(_with_interval(domain, key, m.report.metrics.get(key), m.intervals))}</td>"
                        for m in models)
        rows.append(f"<tr><th>{_e(label_of(key, domain.key).name)}</th>{cells}</tr>")
    parts = ["<section id='comparison'><h2>Side by side</h2>",
             f"<table class='metrics'><tr><th>Metric</th>{header}</tr>{''.join(rows)}</table>",
             "<div class='grid'>"]
    for frame_name, x, y, title in OVERLAYS:
        frames = [(m.name, m.report.frames.get(frame_name)) for m in models]
        if all(f is not None and f.height and {x, y} <= set(f.columns) for _, f in frames):
            fig = go.Figure([go.Scatter(x=f[x].to_list(), y=f[y].to_list(), mode="lines", name=name)
                             for name, f in frames if f is not None])
            fig.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=380)
            parts.append(_figure(fig, domain.key))
    parts.append("</div></section>")
    return "\n".join(parts)


def _metrics_table(domain: Domain, report: Report, intervals: Mapping[str, tuple[float, float]]) -> str:
    shown = [k for k in (report.headline or tuple(report.metrics)) if k in report.metrics]
    shown += [k for k in report.metrics if k not in shown]
    rows = "".join(f"<tr><th>{_e(label_of(k, domain.key).name)}</th>"
                   f"<td>{_e(_with_interval(domain, k, report.metrics[k], intervals))}</td></tr>" for k in shown)
    return f"<table class='metrics'>{rows}</table>"


def _with_interval(domain: Domain, key: str, value: float | None,
                   intervals: Mapping[str, tuple[float, float]]) -> str:
    if value is None:
        return "-"
    text = format_value(key, value, domain.key)
    if key in intervals:
        low, high = intervals[key]
        text += f" ({format_value(key, low, domain.key)} to {format_value(key, high, domain.key)})"
    return text


def _facts(facts: Mapping[str, str]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts.items())
    return f"<table class='card'>{rows}</table>"


def _table(frame: pl.DataFrame, domain: str) -> str:
    shown, formats = display_frame(frame, domain)
    header = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for row in shown.iter_rows():
        cells = []
        for column, value in zip(shown.columns, row, strict=True):
            fmt = formats.get(column)
            text = "" if value is None else (fmt % value if fmt and isinstance(value, int | float) else str(value))
            cells.append(f"<td>{_e(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<div class='scroll'><table class='data'><tr>{header}</tr>{''.join(body)}</table></div>"


def _figure(fig: go.Figure, domain: str) -> str:
    """A chart's place and its figure as JSON; the page's loader draws it once plotly.js is
    unpacked (``_page``)."""
    spec = readable_figure(fig, domain).to_json().replace("</", "<\\/")  # \/ is "/" in JSON: no early </script>
    return f"<div class='chart'></div><script type='application/json' class='figure'>{spec}</script>"


def _short_json(value: object, limit: int = 600) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[:limit] + " ..."


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _plotly_js() -> str:
    """plotly.js, gzip-compressed and base64-encoded: 1.9 MB in the file instead of 4.8 MB."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(str(get_plotlyjs()).encode(), 9, mtime=0)).decode()


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.5rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #ddd;padding:.3rem .6rem;
text-align:left;vertical-align:top;font-size:.9rem}table.card td{max-width:800px;word-break:break-word}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}.chart{min-width:0}
.scroll{max-height:420px;overflow:auto}.meta,.note{color:#555}"""


# Unpack plotly.js in the browser (DecompressionStream: every current browser), run it in the
# page's global scope, then draw each chart from the JSON beside its place. Nothing is fetched.
LOADER = """(async () => {
  const packed = Uint8Array.from(atob(document.getElementById('plotly-js').textContent), c => c.charCodeAt(0));
  const stream = new Blob([packed]).stream().pipeThrough(new DecompressionStream('gzip'));
  (0, eval)(await new Response(stream).text());
  for (const spec of document.querySelectorAll('script.figure')) {
    const figure = JSON.parse(spec.textContent);
    await Plotly.newPlot(spec.previousElementSibling, figure.data, figure.layout,
                         {displaylogo: false, responsive: true});
  }
  document.body.dataset.charts = 'drawn';
})();"""


def _page(title: str, body: str, plotly_js: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{STYLE}</style></head>"
            f"<body>{body}<script type='application/octet-stream' id='plotly-js'>{plotly_js}</script>"
            f"<script>{LOADER}</script></body></html>")

