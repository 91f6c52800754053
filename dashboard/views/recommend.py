"""Predict tab for recommenders: a user's profile and top-k with reasons, similar items
and the embedding map, and a cold start for a new visitor (fold-in, no retraining)."""

from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.state import initial, kept, persisted
from dashboard.views.common import PageContext, chart, figure_grid, table
from domains.capabilities import HasUserProfiles, Recommender

MAX_COLD_START_PICKS = 20


def render(ctx: PageContext, predictor: Recommender) -> None:
    noun = predictor.item_noun
    user_tab, item_tab, cold_tab = st.tabs(["For a user", f"Similar {noun}", "Cold start (new visitor)"])
    with user_tab:
        _for_user(ctx, predictor)
    with item_tab:
        _similar(ctx, predictor)
    with cold_tab:
        _cold_start(ctx, predictor)


def _for_user(ctx: PageContext, predictor: Recommender) -> None:
    key = f"{ctx.domain.key}-user"
    users = predictor.users()
    first = initial(key, users[0])
    left, right = st.columns([1, 3])
    user = left.selectbox("User", users, index=users.index(first) if first in users else 0, **persisted(key))
    k = left.slider("How many", 5, 50, 10, **kept(f"{ctx.domain.key}-k"))
    recs = predictor.recommend(user, k)
    right.markdown(f"**Top {k} for user {user}** (already-rated {predictor.item_noun} are never recommended)")
    table(recs, ctx.domain.key, where=right)
    if isinstance(ctx.domain, HasUserProfiles) and predictor.known_user(user):
        history, figures = resources.user_profile(ctx.domain.key, ctx.data_id, str(user), ctx.data)
        st.subheader("Profile")
        figure_grid(figures, key=f"{ctx.domain.key}-profile", domain=ctx.domain.key)
        st.caption("Ratings in the protocol's train split feed the model; test-split ratings are what it should find.")
        table(history, ctx.domain.key, height=260)


def _similar(ctx: PageContext, predictor: Recommender) -> None:
    labels = predictor.item_choices()
    item = st.selectbox(f"Find {predictor.item_noun} like", list(labels), format_func=labels.__getitem__,
                        **kept(f"{ctx.domain.key}-movie"))
    table(predictor.similar_items(item, 10), ctx.domain.key)
    with st.expander(f"Map of all {predictor.item_noun}", expanded=False):
        chart(resources.item_map(ctx.model_id, predictor), key=f"{ctx.domain.key}-item-map", domain=ctx.domain.key)


def _cold_start(ctx: PageContext, predictor: Recommender) -> None:
    labels = predictor.item_choices()
    picks = st.multiselect(f"Pick a few {predictor.item_noun} you like (up to {MAX_COLD_START_PICKS})", list(labels),
                           format_func=labels.__getitem__, max_selections=MAX_COLD_START_PICKS,
                           **kept(f"{ctx.domain.key}-cold-picks"))
    if not picks:
        st.info(f"Pick {predictor.item_noun} to get instant recommendations; with none picked you see the most "
                "popular ones.")
    table(predictor.recommend_for_items(picks, 10), ctx.domain.key)
