"""Predict on one text: type or pick an example, see the class probabilities and which
words moved the prediction. User text is only ever shown escaped."""

from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.state import kept
from dashboard.views.common import PageContext, chart
from domains.base import Predictor
from domains.capabilities import HasTextInputs
from domains.charts import attribution_html, attribution_legend


def render(ctx: PageContext, domain: HasTextInputs, predictor: Predictor) -> None:
    samples = domain.sample_texts(ctx.data)
    key = f"{ctx.domain.key}-{ctx.data_id}-text"
    start = st.selectbox("Start from an example", range(len(samples)), **kept(f"{key}-sample"),
                         format_func=lambda i: samples[i][:110] + ("..." if len(samples[i]) > 110 else ""))
    text = st.text_area("Text to classify", value=samples[start] if samples else "", height=140,
                        **kept(f"{key}-{start}"), help="Edit freely; the prediction and the highlighting follow.")
    if not text.strip():
        st.info("Type or paste some text to classify (the box is empty or only spaces).")
        return
    row, probabilities = resources.text_prediction(ctx.domain.key, ctx.model_id, text, predictor)
    left, right = st.columns([1, 2])
    left.metric("Prediction", str(row["prediction"]))
    left.metric("Confidence", f"{row['confidence']:.1%}")
    chart(probabilities, key=f"{key}-probs", domain=ctx.domain.key, where=right)
    attribution = resources.text_explanation(ctx.domain.key, ctx.model_id, text, predictor)
    if row["truncated"] or attribution.truncated:
        st.warning(f"This text is {len(text):,} characters long: the model read only its beginning (the "
                   "highlighted part below); the rest did not affect the prediction.")
    st.subheader(f"Why '{attribution.label}'")
    # Safe as HTML: attribution_html escapes every character of the user's text.
    st.markdown(attribution_html(attribution.text, attribution.segments), unsafe_allow_html=True)
    gap = f"; completeness gap {attribution.gap:+.3f}" if attribution.gap else ""
    st.caption(f"{attribution_legend(repr(attribution.label))} ({attribution.method}{gap})")
    words = resources.attribution_figure(ctx.domain.key, ctx.model_id, text, attribution)
    if words is not None:
        chart(words, key=f"{key}-words", domain=ctx.domain.key)
