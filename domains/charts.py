"""Plotly figures shared by domains: classification curves, confusion matrices,
distributions, attribution waterfalls and live-stream panels."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from domains.capabilities import Explanation
from domains.labels import display_name, format_value, is_code_name, readable

TEMPLATE = "domainlens"


def _register_template() -> None:
    """plotly_white's look as every figure's default, registered once. Naming a template on
    each figure deep-copies and validates it (about 40 ms a figure, most of a Live refresh),
    and its styles for trace types DomainLens never draws are a third of each chart's bytes
    on the wire; a default template is applied unvalidated."""
    white = pio.templates["plotly_white"]
    used = {name: white.data[name] for name in ("bar", "box", "heatmap", "histogram", "pie", "scatter")}
    pio.templates[TEMPLATE] = go.layout.Template(layout=white.layout, data=used)
    pio.templates.default = TEMPLATE


_register_template()


MARGIN = {"l": 40, "r": 20, "t": 50, "b": 40}


def styled(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    """The DomainLens look for a figure (title, height, margins; the template is the default
    one); returns ``fig``."""
    fig.update_layout(title=title, height=height, margin=MARGIN)
    return fig


def _axis(spec: dict[str, Any] | None) -> dict[str, Any]:
    axis = dict(spec or {})
    if isinstance(axis.get("title"), str):
        axis["title"] = {"text": axis["title"]}
    return axis


def live_figure(traces: Any, title: str, *, height: int = 360, x: dict[str, Any] | None = None,
                y: dict[str, Any] | None = None, lines: Sequence[dict[str, Any]] = (), **layout: Any) -> go.Figure:
    """A panel redrawn every second (the Live tab), styled as ``styled`` does, its whole layout
    given at once: axes ``x`` and ``y`` (a ``title`` may be a string), reference ``lines``
    (``reference_layout``'s arguments) and any other layout key. Built without plotly's
    validation, which is three quarters of building a figure, and without one update_layout
    per setting (each walks plotly's property tree: a refresh of four panels spent more time
    there than anywhere else). Its traces come from DomainLens's own code and state, not from
    user input."""
    shapes, notes = [], []
    for line in lines:
        shape, note = reference_layout(**line)
        shapes.append(shape)
        notes.extend(note)
    full = {"title": {"text": title}, "height": height, "margin": MARGIN, "xaxis": _axis(x), "yaxis": _axis(y),
            **({"shapes": shapes, "annotations": notes} if shapes else {}), **layout}
    return go.Figure(traces, layout=full, _validate=False)


def reference_layout(*, x: float | None = None, y: float | None = None, text: str = "", dash: str = "dot",
                     color: str = "grey") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A labelled vertical (``x``) or horizontal (``y``) line across a one-panel figure, as the
    layout shape and (when ``text``) annotation that draw it."""
    vertical = x is not None
    at = float(x if vertical else y)  # type: ignore[arg-type]
    line = {"type": "line", "line": {"dash": dash, "color": color, "width": 1.5},
            **({"x0": at, "x1": at, "xref": "x", "y0": 0, "y1": 1, "yref": "paper"} if vertical
               else {"y0": at, "y1": at, "yref": "y", "x0": 0, "x1": 1, "xref": "paper"})}
    if not text:
        return line, []
    label = ({"x": at, "xref": "x", "y": 1, "yref": "paper", "xanchor": "left", "yanchor": "bottom"} if vertical
             else {"y": at, "yref": "y", "x": 1, "xref": "paper", "xanchor": "right", "yanchor": "bottom"})
    return line, [{"text": text, "showarrow": False, **label}]


def reference_line(fig: go.Figure, *, x: float | None = None, y: float | None = None, text: str = "",
                   dash: str = "dot", color: str = "grey") -> go.Figure:
    """``reference_layout``'s line added to ``fig``, as plain layout dicts (plotly's add_vline
    validates its way through the subplot grid, about 30 ms a line)."""
    shape, notes = reference_layout(x=x, y=y, text=text, dash=dash, color=color)
    fig.update_layout(shapes=[*fig.layout.shapes, shape], annotations=[*fig.layout.annotations, *notes])
    return fig


_HOVER_PAIR = re.compile(r"(^|<br>)([a-z][a-z0-9@_]*)=([^<]*)")


def readable_figure(fig: go.Figure, domain: str | None = None) -> go.Figure:
    """Every code name a figure shows, as people read it: trace names (legends), axis and
    legend titles, category ticks (a bar per feature or metric) and hover labels. The one
    pass every chart goes through before it is drawn; names already readable stay as they are."""
    def name(text: object) -> object:
        return readable(text, domain) if isinstance(text, str) else text

    def title(text: object) -> object:  # a column name as an axis or legend title: always its display name
        return display_name(text, domain) if isinstance(text, str) and is_code_name(text) else text

    def categories(values: object) -> object:
        if values is None or isinstance(values, str):
            return values
        items = list(values)  # type: ignore[call-overload]
        if not items or not all(isinstance(v, str) for v in items):
            return values
        mapped = [readable(v, domain) for v in items]
        return mapped if mapped != items else values

    def hover(template: object) -> object:
        return _HOVER_PAIR.sub(lambda m: _hover_pair(m, domain), template) if isinstance(template, str) else template

    for trace in fig.data:
        _rename(trace, "name", name)
        _rename(trace, "legendgroup", name)
        _rename(trace, "hovertemplate", hover)
        if trace.type in ("bar", "box", "scatter", "histogram"):
            _rename(trace, "x", categories)
            _rename(trace, "y", categories)
    for axis in (*fig.select_xaxes(), *fig.select_yaxes()):
        _rename(axis.title, "text", title)
    _rename(fig.layout.legend.title, "text", title)
    return fig


def _rename(obj: Any, prop: str, rename: Any) -> None:
    """``obj[prop] = rename(obj[prop])``, assigned only when it changes: each plotly
    assignment re-validates the value (a whole data array for ``x``), on every Live refresh."""
    value = getattr(obj, prop, None)
    if value is None:
        return
    renamed = rename(value)
    if renamed is not value and not (isinstance(value, str) and renamed == value):
        setattr(obj, prop, renamed)


def _hover_pair(match: re.Match[str], domain: str | None) -> str:
    """``p_bad=%{x}`` -> ``Probability of default=%{x}``; ``model=dlae`` -> ``Model=DLAE ...``."""
    value = match[3] if match[3].startswith("%{") else readable(match[3], domain)
    return f"{match[1]}{display_name(match[2], domain)}={value}"


def roc_chart(roc: pl.DataFrame, auc: float, operating: tuple[float, float] | None = None) -> go.Figure:
    fig = go.Figure(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {auc:.3f})"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance"))
    if operating is not None:
        fig.add_trace(go.Scatter(x=[operating[0]], y=[operating[1]], mode="markers",
                                 marker={"size": 12, "symbol": "x"}, name="operating point"))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.02])
    return styled(fig, "ROC curve")


def pr_chart(pr: pl.DataFrame, base_rate: float) -> go.Figure:
    fig = go.Figure(go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines", name="precision-recall"))
    reference_line(fig, y=base_rate, text="base rate")
    fig.update_xaxes(title="recall", range=[0, 1])
    fig.update_yaxes(title="precision", range=[0, 1.02])
    return styled(fig, "Precision-recall")


def calibration_chart(cal: pl.DataFrame) -> go.Figure:
    fig = go.Figure(go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name="model",
                               text=[f"{n} rows" for n in cal["count"]]))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                             name="perfect calibration"))
    fig.update_xaxes(title="mean predicted probability", range=[0, 1])
    fig.update_yaxes(title="observed rate", range=[0, 1])
    return styled(fig, "Calibration")


def confusion_chart(conf: pl.DataFrame) -> go.Figure:
    wide = conf.pivot(on="predicted", index="actual", values="count")
    cols = [c for c in wide.columns if c != "actual"]
    fig = go.Figure(go.Heatmap(z=wide.select(cols).to_numpy(), x=cols, y=wide["actual"].to_list(),
                               colorscale="Blues", text=wide.select(cols).to_numpy(), texttemplate="%{text}"))
    fig.update_xaxes(title="predicted")
    fig.update_yaxes(title="actual", autorange="reversed")
    return styled(fig, "Confusion matrix")


def histogram_by_class(frame: pl.DataFrame, value: str, cls: str, title: str, domain: str | None = None) -> go.Figure:
    fig = px.histogram(frame.to_pandas(), x=value, color=cls, barmode="overlay", nbins=40, opacity=0.65,
                       labels={value: display_name(value, domain), cls: display_name(cls, domain), "count": "rows"})
    return styled(fig, title)


def waterfall_chart(explanation: Explanation, domain: str | None = None, top: int = 12) -> go.Figure:
    frame = explanation.frame.head(top)
    rest = float(explanation.frame["contribution"].to_numpy().sum() - frame["contribution"].to_numpy().sum())
    labels = [f"{display_name(f, domain)} = {format_value(f, v, domain)}"
              for f, v in zip(frame["feature"], frame["value"], strict=True)]
    values = frame["contribution"].to_list()
    if explanation.frame.height > top:
        labels.append(f"{explanation.frame.height - top} other inputs")
        values.append(rest)
    fig = go.Figure(go.Waterfall(
        orientation="h",
        y=["baseline", *labels, "this prediction"],
        x=[explanation.base_value, *values, explanation.output_value],
        measure=["absolute", *["relative"] * len(values), "total"],
        increasing={"marker": {"color": TOWARD}},
        decreasing={"marker": {"color": AGAINST}},
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=f"contribution ({explanation.space})")
    fig.update_layout(showlegend=False)
    # A waterfall has no legend for its colours: say it under the title.
    title = f"Why this prediction<br><sup>{_legend_markup(explanation.outcome)}</sup>"
    return styled(fig, title, height=140 + 28 * (len(labels) + 2))


def importance_chart(frame: pl.DataFrame, domain: str | None = None, top: int = 15) -> go.Figure:
    head = frame.head(top)
    names = [display_name(f, domain) for f in head["feature"]]
    fig = go.Figure(go.Bar(x=head["importance"], y=names, orientation="h"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="mean |contribution|")
    return styled(fig, "Global importance", height=120 + 24 * head.height)


def metric_series_chart(frame: pl.DataFrame, x: str, title: str, *, x_title: str | None = None,
                        y_title: str = "value") -> go.Figure:
    """Line per metric column against ``x`` (training curves, live throughput)."""
    long = frame.unpivot(index=x, variable_name="metric", value_name="value").drop_nulls()
    long = long.with_columns(pl.col("metric").map_elements(display_name, return_dtype=pl.String))
    fig = px.line(long.to_pandas(), x=x, y="value", color="metric", markers=True,
                  labels={x: x_title or display_name(x), "value": y_title, "metric": ""})
    return styled(fig, title)


def _as_rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def overlay_figure(image: np.ndarray, heatmap: np.ndarray, title: str, opacity: float = 0.45) -> go.Figure:
    """The input and the same input under its Grad-CAM heatmap, side by side."""
    image = np.asarray(image)
    gray = image if image.ndim == 2 else image.mean(axis=2)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("input (centre square)", "Grad-CAM overlay"),
                        horizontal_spacing=0.04)
    for col in (1, 2):
        fig.add_trace(go.Heatmap(z=gray, colorscale="gray", zmin=0, zmax=255, showscale=False, hoverinfo="skip"),
                      row=1, col=col)
    fig.add_trace(go.Heatmap(z=heatmap, colorscale="Jet", opacity=opacity, zmin=0, zmax=1,
                             colorbar={"title": "attention", "len": 0.8}, name="Grad-CAM"), row=1, col=2)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    fig.update_yaxes(scaleanchor="x2", row=1, col=2)
    return styled(fig, title, height=380)


def study_figure(pixels: np.ndarray, title: str) -> go.Figure:
    fig = go.Figure(go.Image(z=_as_rgb(pixels)))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return styled(fig, title, height=460)


# One colour convention for every attribution on every page (credit's reasons, text's words):
# orange pushes toward the outcome explained, blue against it. Colour-blind safe, and neither
# reads as "good" or "bad" the way red and green do.
TOWARD, AGAINST = "#e66101", "#2166ac"
_TOWARD_RGB, _AGAINST_RGB = "230, 97, 1", "33, 102, 172"


def attribution_legend(outcome: str) -> str:
    """The convention in words, for a caption: what orange and blue mean for this outcome."""
    return f"Orange pushes toward {outcome}, blue against it."


def _legend_markup(outcome: str) -> str:
    return (f"<span style='color:{TOWARD}'>orange</span> pushes toward {outcome}, "
            f"<span style='color:{AGAINST}'>blue</span> against it")


def attribution_html(text: str, segments: list[tuple[int, int, float]]) -> str:
    """The text with each word's background tinted by its attribution (orange toward the
    predicted class, blue against). Every piece of the text is HTML-escaped: only the
    span tags are markup."""
    top = max((abs(s) for _, _, s in segments), default=0.0) or 1.0
    parts, cursor = [], 0
    for start, end, score in segments:
        parts.append(html.escape(text[cursor:start]))
        alpha = min(1.0, abs(score) / top) * 0.6
        rgb = _TOWARD_RGB if score >= 0 else _AGAINST_RGB
        parts.append(f'<span style="background-color: rgba({rgb}, {alpha:.2f}); border-radius: 3px" '
                     f'title="{score:+.3f}">{html.escape(text[start:end])}</span>')
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return '<div style="line-height: 1.9; white-space: pre-wrap">' + "".join(parts) + "</div>"


def attribution_chart(words: pl.DataFrame, label: str, top: int = 15) -> go.Figure:
    """The words that moved the prediction most, either way."""
    ranked = words.with_columns(pl.col("attribution").abs().alias("size")).sort("size", descending=True).head(top)
    ranked = ranked.sort("attribution")
    colours = [TOWARD if v >= 0 else AGAINST for v in ranked["attribution"]]
    fig = go.Figure(go.Bar(x=ranked["attribution"], y=[f"{w} " for w in ranked["word"]], orientation="h",
                           marker_color=colours))
    fig.update_xaxes(title=f"attribution toward '{label}'")
    title = f"Words that moved the prediction<br><sup>{_legend_markup(repr(label))}</sup>"
    return styled(fig, title, height=140 + 22 * max(ranked.height, 3))


def probability_bars(probs: dict[str, float]) -> go.Figure:
    """One bar per class, most likely on top."""
    names = sorted(probs, key=probs.__getitem__)
    fig = go.Figure(go.Bar(x=[probs[n] for n in names], y=names, orientation="h",
                           text=[f"{probs[n]:.1%}" for n in names], textposition="auto"))
    fig.update_xaxes(range=[0, 1], title="probability")
    return styled(fig, "Class probabilities", height=110 + 30 * len(names))


def item_map_chart(frame: pl.DataFrame, noun: str = "items") -> go.Figure:
    """Items placed by their embeddings (``x``, ``y``), coloured by ``group``."""
    fig = px.scatter(frame.to_pandas(), x="x", y="y", color="group", hover_name="title", labels={"group": ""},
                     hover_data={"x": False, "y": False, "ratings": True}, size_max=6, opacity=0.7)
    fig.update_traces(marker={"size": 5})
    return styled(fig, f"Map of the {noun}: similar {noun} sit close together (embeddings, PCA)", height=520)
