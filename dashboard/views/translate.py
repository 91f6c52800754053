"""Predict for translation: type or paste text, see the translation stream in (tokens for
Hugging Face and CTranslate2 models, sentences for the offline engine), Stop at any
time, check the detected language, a glossary, alternatives and the side-by-side
sentence view; or translate whole documents and CSV columns with progress.

User text is only ever shown as plain text (``st.text``/dataframes/code), never as HTML.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st

from dashboard import resources
from dashboard.state import kept
from dashboard.views.common import PageContext, download_buttons, plain_text_box
from domains.base import DataError
from domains.capabilities import HasFilePredictor, HasSampleTexts, Translator
from domains.io import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB, check_upload_size, decode_text, read_table_bytes
from models.control import CancelToken, Progress

# The box's own limit is checked here, not by the browser: a text area's max_chars makes the
# browser drop a longer paste without a word (the old text stays and is translated again).
MAX_TYPED_CHARS = 200_000


def _key(ctx: PageContext) -> str:
    return f"{ctx.domain.key}-translate"


def render(ctx: PageContext, predictor: Translator) -> None:
    translator = _configured(ctx, predictor)
    key = _key(ctx)
    samples = ctx.domain.sample_texts(ctx.data) if isinstance(ctx.domain, HasSampleTexts) else []
    start = st.selectbox("Start from an example", range(len(samples)), **kept(f"{key}-sample"),
                         format_func=lambda i: samples[i][:110] + ("..." if len(samples[i]) > 110 else ""))
    # A form: the Translate button is always there, and pasted text counts when it is clicked
    # (a bare text area commits only on Ctrl+Enter or blur, so a paste looked like an empty box).
    with st.form(f"{key}-form", border=False, enter_to_submit=False):
        text = st.text_area("Text to translate", value=samples[start] if samples else "", height=150,
                            **kept(f"{key}-text-{start}"),
                            help=f"Up to {MAX_TYPED_CHARS:,} characters, translated sentence by sentence; "
                                 "for longer text use the Documents and tables tab.")
        clicked = st.form_submit_button("Translate", type="primary")
    st.caption(f"{len(text):,} characters, {len(text.split()):,} words (up to {MAX_TYPED_CHARS:,} characters)")
    st.button("Stop", key=f"{key}-stop", help="Ends generation at once; the text so far is kept.")
    _stop_previous(key)  # any click reruns the page: a translation still streaming stops here
    if not text.strip():
        st.info("The box is empty: type or paste some text above, then press Translate.")
        return
    if len(text) > MAX_TYPED_CHARS:
        st.error(f"This text is {len(text):,} characters; the box translates up to {MAX_TYPED_CHARS:,}. "
                 "Save it as a .txt file and upload it in the Documents and tables tab: it is translated "
                 "with progress and can be downloaded.")
        return
    translator = _offer_detected_language(ctx, translator, text)
    if clicked:
        _translate(key, translator, text)
    _show_last(key, translator)


def _configured(ctx: PageContext, translator: Translator) -> Translator:
    """Pair, decoder and glossary pickers; the predictor is shared, so copies are configured."""
    key = _key(ctx)
    name = translator.language_name
    pairs = translator.pairs()
    sources = list(dict.fromkeys(a for a, _ in pairs))
    c1, c2, c3 = st.columns(3)
    src = c1.selectbox("From", sources, index=sources.index(translator.src) if translator.src in sources else 0,
                       format_func=name, **kept(f"{key}-src"))
    targets = [b for a, b in pairs if a == src]
    tgt = c2.selectbox("To", targets, format_func=name, **kept(f"{key}-tgt"),
                       help="Only the pairs this model offers are listed.")
    configured = translator.with_pair(src, tgt)
    decoders = translator.decoders()
    if len(decoders) > 1:
        decoder = c3.radio("Decoder", decoders, horizontal=True, **kept(f"{key}-backend"),
                           help="A faster decoder is converted once (shared by everyone) and checked against "
                                "the exact one on this machine.")
        if decoder != decoders[0]:
            configured, scoring = resources.decoded(ctx.model_id, src, tgt, decoder, configured)
            if scoring is not None:
                (st.caption if scoring.fast else st.warning)(scoring.summary())
    else:
        c3.caption(f"Backend: {translator.backend}")
    with st.expander("Glossary and do-not-translate terms"):
        glossary = st.text_area("One per line: a term to keep as is, or `source => target`", **kept(f"{key}-glossary"),
                                placeholder="DomainLens\ndashboard => painel")
        if glossary.strip():
            try:
                configured = configured.with_glossary_text(glossary)
            except DataError as exc:
                st.error(str(exc))
    return configured


def _offer_detected_language(ctx: PageContext, translator: Translator, text: str) -> Translator:
    name = translator.language_name
    found = translator.detect(text)
    if found.language is None:
        st.caption("Language: not enough text to tell.")
        return translator
    st.caption(f"Detected language: {name(found.language)} ({found.confidence:.0%} confident)")
    if found.language != translator.src and found.confidence >= 0.5:
        offered = [b for a, b in translator.pairs() if a == found.language]
        if offered:
            target = translator.tgt if translator.tgt in offered else offered[0]
            st.warning(f"This looks like {name(found.language)}, not {name(translator.src)}.")
            if st.toggle(f"Translate from {name(found.language)} to {name(target)} instead",
                         **kept(f"{_key(ctx)}-use-detected"), value=True):
                return translator.with_pair(found.language, target)
        else:
            st.warning(f"This looks like {name(found.language)}; this model does not translate from it. "
                       "The text is translated as written in the selected language.")
    return translator


def _stop_previous(key: str) -> None:
    flag: CancelToken | None = st.session_state.pop(f"{key}-flag", None)
    if flag is not None:
        flag.cancel()


def _translate(key: str, translator: Translator, text: str) -> None:
    flag = CancelToken()
    st.session_state[f"{key}-flag"] = flag
    record: dict[str, Any] = {"text": "", "segments": [], "ttft": None, "seconds": None,
                              "src": translator.src, "tgt": translator.tgt, "backend": translator.backend}
    st.session_state[f"{key}-last"] = record
    started = time.perf_counter()

    total = translator.sentence_count(text)
    counter = st.empty()

    def finished(source: str, translated: str) -> None:
        record["segments"].append((source, translated))
        counter.caption(f"{len(record['segments'])} of {total} sentences translated")

    def pieces() -> Iterator[str]:
        for piece in translator.stream_text(text, stop=flag, on_sentence=finished):
            if record["ttft"] is None and piece.strip():
                record["ttft"] = time.perf_counter() - started
            record["text"] += piece  # kept even if Stop interrupts the page mid-stream
            yield piece

    name = translator.language_name
    st.caption(f"{name(translator.src)} → {name(translator.tgt)} · {translator.backend}")
    st.write_stream(pieces())
    record["seconds"] = time.perf_counter() - started
    st.session_state.pop(f"{key}-flag", None)
    st.rerun()  # draw the finished translation below, with its metrics and sentence view


def _show_last(key: str, translator: Translator) -> None:
    record = st.session_state.get(f"{key}-last")
    if not record:
        return
    name = translator.language_name
    if record["seconds"] is None:
        st.warning("Stopped: generation ended at your request. The text translated so far is below.")
    st.caption(f"{name(record['src'])} → {name(record['tgt'])} · {record['backend']}")
    cols = st.columns(3)
    cols[0].metric("time to first output", f"{record['ttft']:.2f} s" if record["ttft"] is not None else "-")
    cols[1].metric("total time", f"{record['seconds']:.2f} s" if record["seconds"] is not None else "stopped")
    cols[2].metric("sentences translated", str(len(record["segments"])))
    plain_text_box(record["text"].strip(), key=f"{key}-output")
    if record["segments"]:
        st.subheader("Side by side")
        st.dataframe(pl.DataFrame({"#": list(range(1, len(record["segments"]) + 1)),
                                   name(record["src"]): [s for s, _ in record["segments"]],
                                   name(record["tgt"]): [t for _, t in record["segments"]]}),
                     hide_index=True, width="stretch")
    report = translator.glossary_report([s for s, _ in record["segments"]], [t for _, t in record["segments"]])
    if report is not None and record["segments"]:
        st.subheader("Glossary")
        st.dataframe(report, hide_index=True, width="stretch")
    if record["segments"]:
        with st.expander("Alternatives for one sentence (beam search n-best)"):
            options = [s for s, _ in record["segments"]]
            pick = st.selectbox("Sentence", range(len(options)), format_func=lambda i: options[i][:100],
                                **kept(f"{key}-alt-pick"))
            if st.button("Show alternatives", key=f"{key}-alt-go"):
                alternatives = translator.with_pair(record["src"], record["tgt"]).alternatives(options[pick], n=3)
                if len(alternatives) == 1:
                    st.caption("This backend decodes greedily: it has one candidate.")
                st.dataframe(pl.DataFrame({"rank": list(range(1, len(alternatives) + 1)),
                                           "candidate": alternatives}), hide_index=True, width="stretch")


# ---- documents and tables --------------------------------------------------------------------


def batch(ctx: PageContext, predictor: Translator) -> None:
    key = f"{_key(ctx)}-batch"
    name = predictor.language_name
    upload = st.file_uploader(f"A document (TXT, Markdown) or a table (CSV, Parquet, JSONL), max {MAX_UPLOAD_MB} MB",
                              type=["txt", "md", "markdown", "csv", "parquet", "jsonl"], key=f"{key}-upload")
    if upload is None:
        st.caption(f"Documents are translated sentence by sentence with their layout and markup kept; tables get "
                   f"a translated copy of the column you pick. Pair: {name(predictor.src)} -> "
                   f"{name(predictor.tgt)} (set it in the other tab's pickers).")
        return
    payload = upload.getvalue()
    check_upload_size(upload.name, payload, MAX_UPLOAD_BYTES)
    src = st.session_state.get(f"{_key(ctx)}-src", predictor.src)
    tgt = st.session_state.get(f"{_key(ctx)}-tgt", predictor.tgt)
    translator = predictor.with_pair(src, tgt)
    domain = ctx.domain
    if isinstance(domain, HasFilePredictor) and upload.name.lower().endswith(domain.file_suffixes):
        _document(key, domain, translator, upload.name, payload)
    else:
        _table(key, translator, upload.name, payload)


def _document(key: str, domain: HasFilePredictor, translator: Translator, file_name: str, payload: bytes) -> None:
    """The domain's own document path (``predict_file``, as the CLI uses it) on a copy of the
    upload kept only for this run."""
    text = decode_text(file_name, payload)
    if not text.strip():
        st.info(f"{file_name} is empty: there is nothing to translate.")
        return
    if translator.partial_path(text).is_file():
        st.info("Part of this document was translated before; that part is reused and the rest continues.")
    if not st.button("Translate document", type="primary", key=f"{key}-doc-go"):
        return
    bar = st.progress(0.0, text="Translating...")

    def show(progress: Progress) -> None:
        bar.progress(progress.fraction, text=f"{progress.step:,} of {progress.total:,} sentences")

    stem, _, suffix = file_name.rpartition(".")
    with tempfile.TemporaryDirectory(prefix="domainlens-doc-") as folder:
        source, target = Path(folder) / Path(file_name).name, Path(folder) / f"{stem}.{translator.tgt}.{suffix}"
        source.write_bytes(payload)
        domain.predict_file(translator, source, target, show)
        out = target.read_text(encoding="utf-8")
    st.success(f"Translated {file_name} ({len(text.split()):,} words).")
    st.code(out[:20_000], language="markdown", wrap_lines=True)
    st.download_button("Download the translation", out.encode("utf-8"), target.name, "text/plain",
                       key=f"{key}-doc-download")


def _table(key: str, translator: Translator, file_name: str, payload: bytes) -> None:
    table = read_table_bytes(file_name, payload, max_bytes=MAX_UPLOAD_BYTES)
    text_columns = [c for c, t in table.schema.items() if t == pl.String] or table.columns
    column = st.selectbox("Column to translate", text_columns, **kept(f"{key}-column"))
    if not st.button("Translate column", type="primary", key=f"{key}-table-go"):
        return
    texts = table[column].cast(pl.String).to_list()
    resume = translator.partial_path("\n".join(t or "" for t in texts))
    if resume.is_file():
        st.info("Part of this column was translated before; that part is reused and the rest continues.")
    bar = st.progress(0.0, text="Translating...")

    def show(progress: Progress) -> None:
        bar.progress(progress.fraction, text=f"{progress.step:,} of {progress.total:,} distinct sentences")

    translated = translator.translate_column(texts, progress=show, resume=resume)
    resume.unlink(missing_ok=True)
    result = table.with_columns(pl.Series(f"{column}_{translator.tgt}", translated, dtype=pl.String),
                                pl.Series("translation_note", ["empty cell: nothing to translate" if t is None
                                                               else None for t in translated], dtype=pl.String))
    st.success(f"Translated {table.height:,} rows.")
    st.dataframe(result.head(500), width="stretch", height=300)
    download_buttons(result, f"{file_name.rsplit('.', 1)[0]}.{translator.tgt}", key=f"{key}-table")
