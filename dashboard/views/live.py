"""Live: watch events from a source (a replay of the dataset at a chosen rate, the model
server's traffic, a folder of arriving files, a Redis stream); throughput, latency and domain
charts refresh in place from a fragment while a worker thread scores the stream.

Start and Stop live in the same fragment as the status they depend on and act
through callbacks, so both buttons are drawn from the run's state after the click
(drawn outside, Stop stayed disabled until something else reran the page). A run
ends by itself a few seconds after its browser session does.
"""

from __future__ import annotations

import streamlit as st

from dashboard.state import kept, session_alive
from dashboard.views.common import PageContext, figure_grid, need_model, table
from domains import sources
from domains.base import DomainLensError, FieldSpec, Predictor
from domains.capabilities import HasStreamOptions, Thresholded
from domains.server import LiveRun, start_live

REFRESH_S = 1.0
RATES = [5, 20, 50, 200, 1000, 5000]  # the replay's rates on offer


def _run_key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-live-run"


def render(ctx: PageContext) -> None:
    predictor = need_model(ctx, "live")
    if predictor is None:
        return
    key = _run_key(ctx)
    run: LiveRun | None = st.session_state.get(key)
    # A running stream keeps the model it started with: its threshold is the one in use until Start.
    scoring = run.predictor if run is not None and run.running else predictor
    if isinstance(scoring, Thresholded) and isinstance(predictor, Thresholded):
        since = " when the stream started; Start again to use the new one" \
            if scoring.threshold != predictor.threshold else ""
        st.caption(f"Decision threshold {scoring.threshold:.2f}: this model's, as set on the Predict tab{since}.")
    offered = sources.offered()
    st.radio("Events from", list(offered), format_func=offered.__getitem__, horizontal=True, **kept(f"{key}-source"),
             disabled=bool(run and run.running), help="A replay of the dataset, or real traffic: what the model "
             "server answered, files dropped into a folder, or a Redis stream")
    choice = st.session_state.get(f"{key}-source", "replay")
    c1, c2, c3 = st.columns(3)
    if choice == "replay":
        c1.select_slider("Events per second", RATES, value=50, **kept(f"{key}-rate"))
        for field in _stream_fields(ctx):
            c3.checkbox(field.name.replace("_", " "), value=bool(field.default), help=field.help or None,
                        **kept(f"{key}-{field.name}"))
    elif choice == "traffic":
        st.caption(f"The predictions `domainlens serve-models` answers from now on, read from its log in "
                   f"`{sources.traffic_root()}` (already scored: nothing is scored again).")
    elif choice == "folder":
        c1.text_input("Folder", value=ctx.domain.key, **kept(f"{key}-folder"),
                      help=f"A folder under {sources.inbox_root()} (DOMAINLENS_INBOX)")
        kinds = "CSV, Parquet, JSON lines" + (", images" if ctx.domain.key == "medical_imaging" else "")
        st.caption(f"Each complete file ({kinds}) "
                   f"in `{sources.inbox_root()}/<folder>` is scored once, oldest first. Write a file under another "
                   "name (e.g. `.x.csv` or `x.csv.tmp`) and rename it when done.")
    elif choice == "redis":
        c1.text_input("Redis URL", value=sources.redis_url(), **kept(f"{key}-redis-url"))
        c3.text_input("Stream", value=f"domainlens:{ctx.domain.key}", **kept(f"{key}-redis-stream"))
        st.caption(f"Read with the consumer group '{sources.REDIS_GROUP}': dashboards in the group share the "
                   "stream without counting an event twice. Each entry's 'row' field holds one row as JSON.")
    c2.select_slider("Max micro-batch", [1, 16, 64, 256, 1024], value=64, **kept(f"{key}-batch"))
    # Poll only while a stream runs: an idle tab costs the server nothing, which is what lets
    # many analysts share it. Each fragment switches to the other with a page rerun.
    (_panel_running if run is not None and run.running else _panel_idle)(ctx, predictor)


@st.fragment(run_every=REFRESH_S)
def _panel_running(ctx: PageContext, predictor: Predictor) -> None:
    run: LiveRun | None = st.session_state.get(_run_key(ctx))
    if run is None or not run.running:
        st.rerun(scope="app")  # it ended: draw the final state without polling
    _panel(ctx, predictor)


@st.fragment
def _panel_idle(ctx: PageContext, predictor: Predictor) -> None:
    run: LiveRun | None = st.session_state.get(_run_key(ctx))
    if run is not None and run.running:
        st.rerun(scope="app")  # Start was pressed: switch to the polling panel
    _panel(ctx, predictor)


def _stream_fields(ctx: PageContext) -> list[FieldSpec]:
    return ctx.domain.stream_fields() if isinstance(ctx.domain, HasStreamOptions) else []


def _start(ctx: PageContext, predictor: Predictor) -> None:
    """Start a run with the settings on screen now (read from their widgets, not bound when
    the button was drawn: a setting changed just before the click counts)."""
    key = _run_key(ctx)
    batch = int(st.session_state[f"{key}-batch"])
    old: LiveRun | None = st.session_state.get(key)
    if old is not None:
        old.stop()
    try:
        monitor = ctx.domain.monitor(predictor, ctx.data)
        run = start_live(predictor, monitor, _source(ctx, predictor), max_batch_rows=batch, alive=session_alive())
    except DomainLensError as exc:  # e.g. the server's stream limit: shown where the status goes
        st.session_state[f"{key}-error"] = str(exc)
        return
    except Exception as exc:  # the page keeps working
        st.session_state[f"{key}-error"] = f"{type(exc).__name__}: {exc}"
        return
    st.session_state.pop(f"{key}-error", None)
    st.session_state[key] = run


def _source(ctx: PageContext, predictor: Predictor) -> sources.EventSource:
    """The source picked on screen, with the settings on screen now."""
    key = _run_key(ctx)
    state = st.session_state
    choice = state.get(f"{key}-source", "replay")
    if choice == "traffic":
        return sources.TrafficSource(ctx.domain.key)
    if choice == "folder":
        declared = ctx.domain.inputs(predictor, ctx.data)
        return sources.FolderSource(ctx.domain, sources.inbox_folder(str(state.get(f"{key}-folder") or "")), declared)
    if choice == "redis":
        return sources.RedisSource(str(state.get(f"{key}-redis-url") or sources.redis_url()),
                                   str(state.get(f"{key}-redis-stream") or f"domainlens:{ctx.domain.key}"))
    options = {f.name: bool(state.get(f"{key}-{f.name}", f.default)) for f in _stream_fields(ctx)}
    return sources.ReplaySource(ctx.domain.stream(ctx.data, options=options),
                                rows_per_s=float(state.get(f"{key}-rate", 50)))


def _stop(ctx: PageContext) -> None:
    run: LiveRun | None = st.session_state.get(_run_key(ctx))
    if run is not None and not run.stop():
        st.toast("Stream is stopping...")


def _panel(ctx: PageContext, predictor: Predictor) -> None:
    key = _run_key(ctx)
    run: LiveRun | None = st.session_state.get(key)
    running = bool(run and run.running)
    start, stop = st.columns(2)
    start.button("Start", type="primary", disabled=running, key=f"{key}-start", on_click=_start,
                 args=(ctx, predictor), width="stretch")
    stop.button("Stop", disabled=not running, key=f"{key}-stop", on_click=_stop, args=(ctx,), width="stretch")
    if error := st.session_state.get(f"{key}-error"):
        st.error(f"Could not start the stream: {error}")
    if run is None:
        st.info("Press Start to watch the stream of events.")
        return
    stats = run.summary()
    scored = run.source.scored
    cols = st.columns(5)
    cols[0].metric("Status", "running" if running else "stopped")
    cols[1].metric("Events seen" if scored else "Events scored", f"{int(stats['rows']):,}")
    cols[2].metric("Throughput", f"{stats['rows_per_s']:,.0f} /s")
    latency = "Server latency" if scored else "Batch latency"
    cols[3].metric(f"{latency} p50", f"{stats['p50_ms']:.1f} ms")
    cols[4].metric(f"{latency} p95", f"{stats['p95_ms']:.1f} ms")
    st.caption(f"Events from: {run.source.label}")
    if running and (behind := run.falling_behind()) is not None:
        asked, held = behind
        fits = max((r for r in RATES if r <= held), default=RATES[0])
        st.warning(f"The model scores about {held:,.0f} events/s here, below the {asked:,.0f}/s asked: events queue "
                   f"up and reach this page late. Set the rate to {fits:,}/s or less to watch them live.",
                   icon=":material/speed:")
    for problem in run.source.problems():
        st.warning(problem, icon=":material/report:")
    if run.error:
        st.error(f"The stream stopped: {run.error}")
    elif run.stop_reason:
        st.info(f"The stream stopped: {run.stop_reason}.")
    for alert in run.monitor.alerts():
        st.warning(alert, icon=":material/warning:")
    figure_grid(run.monitor.charts(), key="live", domain=ctx.domain.key)
    recent = run.monitor.table()
    if not recent.is_empty():
        # Rows a monitor marks ``flagged`` (e.g. the triage worklist) stand out.
        flagged = recent["flagged"].to_list() if "flagged" in recent.columns else None
        table(recent.drop("flagged", strict=False), ctx.domain.key, highlight=flagged, height=320)
