"""Predict tab for recommenders: a user's profile and top-k with reasons, similar movies
and the embedding map, and a cold start for a new visitor (fold-in, no retraining)."""

from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.state import initial, persisted
from dashboard.views.common import PageContext, figure_grid, labelled
from domains.base import Predictor, Recommender
from domains.recommendations.charts import item_map_chart
from domains.recommendations.predict import RecPredictor

MAX_COLD_START_PICKS = 20


def render(ctx: PageContext, predictor: Predictor) -> None:
    assert isinstance(predictor, Recommender)
    if not isinstance(predictor, RecPredictor):
        st.warning("This recommender does not support the interactive views.")
        return
    user_tab, item_tab, cold_tab = st.tabs(["For a user", "Similar movies", "Cold start (new visitor)"])
    with user_tab:
        _for_user(ctx, predictor)
    with item_tab:
        _similar(ctx, predictor)
    with cold_tab:
        _cold_start(ctx, predictor)


def _for_user(ctx: PageContext, predictor: RecPredictor) -> None:
    key = f"{ctx.domain.key}-user"
    users = list(predictor.user_ids)
    first = initial(key, users[0])
    left, right = st.columns([1, 3])
    user = left.selectbox("User", users, index=users.index(first) if first in users else 0, **persisted(key))
    k = left.slider("How many", 5, 50, 10, key=f"{ctx.domain.key}-k")
    recs = predictor.recommend(user, k)
    right.markdown(f"**Top {k} for user {user}** (already-rated movies are never recommended)")
    right.dataframe(labelled(recs, ctx.domain.key), width="stretch", hide_index=True)
    profile = getattr(ctx.domain, "user_profile", None)
    if profile is not None and predictor.known_user(user):
        history, figures = profile(ctx.data, user)
        st.subheader("Profile")
        figure_grid(figures, key=f"{ctx.domain.key}-profile")
        st.caption("Ratings in the protocol's train split feed the model; test-split ratings are what it should find.")
        st.dataframe(labelled(history, ctx.domain.key), width="stretch", hide_index=True, height=260)


def _similar(ctx: PageContext, predictor: RecPredictor) -> None:
    popular, labels = _catalog_choices(predictor)
    item = st.selectbox("Movie", popular, format_func=labels.__getitem__, key=f"{ctx.domain.key}-movie")
    st.dataframe(labelled(predictor.similar_items(item, 10), ctx.domain.key), width="stretch", hide_index=True)
    with st.expander("Map of all items", expanded=False):
        frame = resources.item_map(ctx.model_id, predictor)
        st.plotly_chart(item_map_chart(frame), width="stretch", key=f"{ctx.domain.key}-item-map")


def _cold_start(ctx: PageContext, predictor: RecPredictor) -> None:
    popular, labels = _catalog_choices(predictor)
    picks = st.multiselect(f"Pick a few movies you like (up to {MAX_COLD_START_PICKS})", popular,
                           format_func=labels.__getitem__, max_selections=MAX_COLD_START_PICKS,
                           key=f"{ctx.domain.key}-cold-picks")
    if not picks:
        st.info("Pick movies to get instant recommendations; with none picked you see the most popular ones.")
    st.dataframe(labelled(predictor.recommend_for_items(picks, 10), ctx.domain.key), width="stretch",
                 hide_index=True)


def _catalog_choices(predictor: RecPredictor) -> tuple[list[str], dict[str, str]]:
    """Item ids, most rated first (what people look for sits on top), and their labels."""
    labels = {item: predictor.catalog.label(i) for i, item in enumerate(predictor.catalog.ids)}
    return sorted(labels, key=lambda x: -float(predictor.popularity[predictor.item_index[x]])), labels
