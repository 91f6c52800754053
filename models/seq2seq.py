"""Sequence-to-sequence (translation) plumbing: Hugging Face seq2seq models loaded from
a folder or hub id, batched generation with beam search and n-best lists, token
streaming through ``TextIteratorStreamer`` with a Stop that really ends generation,
CTranslate2 conversion and decoding, and a from-scratch Marian model whose
SentencePiece vocabulary is trained on the user's own corpus.
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.control import CancelToken
from models.ct2 import keep_torch_threads
from models.errors import DomainLensError
from models.text import length_buckets, load_pretrained, load_tokenizer, pad_rows

DEFAULT_MAX_NEW_TOKENS = 256


class GenerationTimeoutError(DomainLensError, RuntimeError):
    """No new token arrived within the timeout (a stuck or far too slow model)."""


def load_seq2seq(source: str | Path, device: torch.device, revision: str | None = None) -> tuple[Any, Any]:
    """(model in eval mode on ``device``, tokenizer) for any ``AutoModelForSeq2SeqLM``."""
    from transformers import AutoModelForSeq2SeqLM

    tokenizer = load_tokenizer(source, revision)
    model = load_pretrained(AutoModelForSeq2SeqLM, source, revision)
    return model.to(device).eval(), tokenizer


def _max_new_tokens(tokenizer: Any, texts: Sequence[str]) -> int:
    """Room for a translation up to twice the longest source plus slack."""
    longest = max((len(ids) for ids in tokenizer(list(texts))["input_ids"]), default=8)
    return int(min(DEFAULT_MAX_NEW_TOKENS, 2 * longest + 10))


def generate(model: Any, tokenizer: Any, texts: Sequence[str], *, num_beams: int = 1, n_best: int = 1,
             max_batch: int = 32, max_input_tokens: int = 512) -> list[list[str]]:
    """Translate ``texts`` in length-sorted batches; per text, ``n_best`` candidates
    (best first; ``n_best <= num_beams``)."""
    if not texts:
        return []
    device = next(model.parameters()).device
    lengths = np.array([len(t) for t in texts])
    out: list[list[str]] = [[] for _ in texts]
    for idx in length_buckets(lengths, max_batch):
        chunk = [texts[i] for i in idx]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, truncation=True, max_length=max_input_tokens)
        with torch.inference_mode():
            ids = model.generate(**enc.to(device), num_beams=max(num_beams, n_best), num_return_sequences=n_best,
                                 max_new_tokens=_max_new_tokens(tokenizer, chunk))
        decoded = tokenizer.batch_decode(ids, skip_special_tokens=True)
        for row, i in enumerate(idx):
            out[i] = [s.strip() for s in decoded[row * n_best : (row + 1) * n_best]]
    return out


def stream_generate(model: Any, tokenizer: Any, text: str, *, stop: CancelToken | None = None,
                    timeout_s: float = 60.0, max_new_tokens: int | None = None) -> Iterator[str]:
    """Yield the translation of ``text`` piece by piece as tokens are generated.

    ``generate`` runs in a worker thread; a stopping criterion checks ``stop`` before
    every new token, so Stop ends generation within one decoding step. Closing the
    iterator early stops the worker too (without setting ``stop``, which may be shared
    by the sentences of one request). Raises ``GenerationTimeoutError`` when no
    piece arrives within ``timeout_s``."""
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    flag = stop or CancelToken()
    finished = threading.Event()  # this call's own end (the caller's flag may span many calls)

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            ended = flag.cancelled or finished.is_set()
            return torch.full((input_ids.shape[0],), ended, dtype=torch.bool, device=input_ids.device)

    device = next(model.parameters()).device
    enc = tokenizer([text], return_tensors="pt", truncation=True, max_length=512).to(device)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=timeout_s)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            with torch.inference_mode():
                model.generate(**enc, streamer=streamer, num_beams=1,
                               max_new_tokens=max_new_tokens or _max_new_tokens(tokenizer, [text]),
                               stopping_criteria=StoppingCriteriaList([_Stop()]))
        except BaseException as exc:  # surfaced to the consumer below
            failure.append(exc)
            streamer.end()

    worker = threading.Thread(target=work, name="domainlens-generate", daemon=True)
    worker.start()
    try:
        for piece in streamer:
            if flag.cancelled:
                break
            if piece:
                yield piece
    except queue.Empty as exc:
        raise GenerationTimeoutError(f"no new token within {timeout_s:.0f} s; generation was stopped") from exc
    finally:
        finished.set()  # a consumer that stops reading (or closes us) ends generation too
        worker.join(timeout=timeout_s)
    if failure:
        raise failure[0]


# ---- CTranslate2 ---------------------------------------------------------------------------------


class Ct2Seq2Seq:
    """A converted model plus the Hugging Face tokenizer that goes with it."""

    def __init__(self, folder: Path, tokenizer: Any, *, threads: int | None = None) -> None:
        import ctranslate2

        self.folder = folder
        self.tokenizer = tokenizer
        intra = threads or max(1, torch.get_num_threads())
        with keep_torch_threads():
            self.translator = ctranslate2.Translator(str(folder), device="cpu", compute_type="auto",
                                                     inter_threads=1, intra_threads=intra)

    def _tokens(self, text: str) -> list[str]:
        ids = self.tokenizer(text, truncation=True, max_length=512)["input_ids"]
        return list(self.tokenizer.convert_ids_to_tokens(ids))

    def _decode(self, tokens: Sequence[str]) -> str:
        ids = self.tokenizer.convert_tokens_to_ids(list(tokens))
        return str(self.tokenizer.decode(ids, skip_special_tokens=True)).strip()

    def _budget(self, texts: Sequence[str]) -> int:
        # The same budget of content tokens as ``generate``: there the last of the
        # ``max_new_tokens`` steps is the end-of-sentence token a Marian config forces.
        return _max_new_tokens(self.tokenizer, texts) - 1

    def generate(self, texts: Sequence[str], *, num_beams: int = 1, n_best: int = 1, max_batch: int = 32,
                 target_prefix: list[str] | None = None) -> list[list[str]]:
        """Like ``generate`` above: length-sorted batches, each with its own token budget.
        ``target_prefix`` starts every output (e.g. M2M100's target-language token)."""
        if not texts:
            return []
        out: list[list[str]] = [[] for _ in texts]
        for idx in length_buckets(np.array([len(t) for t in texts]), max_batch):
            chunk = [texts[i] for i in idx]
            results = self.translator.translate_batch(
                [self._tokens(t) for t in chunk], beam_size=max(num_beams, n_best), num_hypotheses=n_best,
                max_batch_size=max_batch, max_decoding_length=self._budget(chunk),
                target_prefix=[target_prefix] * len(chunk) if target_prefix else None)
            for i, result in zip(idx, results, strict=True):
                out[i] = [self._decode(h) for h in result.hypotheses]
        return out

    def stream(self, text: str, *, stop: CancelToken | None = None,
               target_prefix: list[str] | None = None) -> Iterator[str]:
        """Pieces of the translation as CTranslate2 emits tokens (greedy)."""
        ids: list[int] = []
        shown = ""
        eos = self.tokenizer.eos_token_id
        steps = self.translator.generate_tokens(self._tokens(text), max_decoding_length=self._budget([text]),
                                                target_prefix=target_prefix)
        for step in steps:
            if stop is not None and stop.cancelled:
                break
            if step.token_id == eos:
                break
            ids.append(step.token_id)
            current = str(self.tokenizer.decode(ids, skip_special_tokens=True))
            if len(current) > len(shown) and not current.endswith("\ufffd"):
                yield current[len(shown):]
                shown = current


# ---- a Marian model from scratch --------------------------------------------------------------

MARIAN_SIZES: dict[str, dict[str, Any]] = {
    # tiny: tests and quick demos; base: the opus-mt architecture (for realistic timings)
    "tiny": {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
             "decoder_attention_heads": 4, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128},
    "small": {"d_model": 256, "encoder_layers": 3, "decoder_layers": 3, "encoder_attention_heads": 4,
              "decoder_attention_heads": 4, "encoder_ffn_dim": 1024, "decoder_ffn_dim": 1024},
    "base": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "encoder_attention_heads": 8,
             "decoder_attention_heads": 8, "encoder_ffn_dim": 2048, "decoder_ffn_dim": 2048},
}


def new_marian(folder: Path, sources: Sequence[str], targets: Sequence[str], *, size: str = "tiny",
               vocab_size: int = 1000, seed: int = 0) -> Path:
    """Write a randomly initialised Marian model with a joint SentencePiece vocabulary
    trained on ``sources + targets`` to ``folder`` (``save_pretrained`` layout), ready
    for ``load_seq2seq`` and fine-tuning. Nothing is downloaded."""
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    if size not in MARIAN_SIZES:
        raise ValueError(f"unknown Marian size {size!r}; choose one of {', '.join(MARIAN_SIZES)}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text("\n".join(t.replace("\n", " ") for t in [*sources, *targets] if t.strip()),
                          encoding="utf-8")
        prefix = Path(tmp) / "spm"
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
            character_coverage=1.0, pad_id=-1, bos_id=-1, eos_id=1, unk_id=0, hard_vocab_limit=False,
            num_threads=2, minloglevel=2)
        for name in ("source.spm", "target.spm"):
            (folder / name).write_bytes(prefix.with_suffix(".model").read_bytes())
        pieces = [line.split("\t")[0] for line in prefix.with_suffix(".vocab").read_text(encoding="utf-8").splitlines()]
    vocab = {"</s>": 0, "<unk>": 1, **{p: i + 2 for i, p in enumerate(p for p in pieces if p not in ("</s>", "<unk>"))}}
    vocab["<pad>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(str(folder / "source.spm"), str(folder / "target.spm"), str(folder / "vocab.json"))
    pad = vocab["<pad>"]
    config = MarianConfig(vocab_size=len(vocab), pad_token_id=pad, eos_token_id=0, decoder_start_token_id=pad,
                          forced_eos_token_id=0, max_position_embeddings=512, scale_embedding=True,
                          share_encoder_decoder_embeddings=True, **MARIAN_SIZES[size])
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


# ---- training batches ---------------------------------------------------------------------------


def encode_pairs(tokenizer: Any, sources: Sequence[str], targets: Sequence[str],
                 max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of source and target sides (target with the tokenizer's target settings)."""
    enc = tokenizer(list(sources), text_target=list(targets), truncation=True, max_length=max_length)
    return [list(x) for x in enc["input_ids"]], [list(x) for x in enc["labels"]]


def pair_batches(src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]], batch_size: int, *,
                 pad_id: int, device: torch.device, seed: int = 0) -> Any:
    """Per epoch: batches ``(input_ids, attention_mask, labels)`` of pairs of similar
    source + target length (dynamic padding); label padding is -100 so the loss ignores it."""
    lengths = np.array([len(s) + len(t) for s, t in zip(src_ids, tgt_ids, strict=True)])

    def epoch_batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng(seed + epoch)
        noisy = lengths + rng.random(len(lengths))  # ties broken differently every epoch
        batches = length_buckets(noisy, batch_size)
        for b in rng.permutation(len(batches)):
            idx = batches[b]
            yield (*pad_rows([src_ids[i] for i in idx], pad_id, device),
                   pad_rows([tgt_ids[i] for i in idx], -100, device)[0])

    return epoch_batches
