"""Fine-tuning a Hugging Face seq2seq model on parallel sentences through the shared
training loop: dynamic padding with length-sorted batches, AdamW with warm-up and
cosine decay, validation chrF every epoch, early stopping with the best epoch kept.

``marian_scratch`` starts from a new Marian model whose SentencePiece vocabulary is
trained on the training pairs, so a user with a parallel corpus and no hub access can
still train a translator of their own.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import torch

from domains.base import DataError, DomainData, ModelSpec, TrainOutcome, TrainSettings
from domains.translation.data import PROBE_SENTENCES
from domains.translation.engines import HFEngine
from domains.translation.translator import TranslationPredictor
from models.control import CancelToken, Progress, ProgressFn
from models.device import amp_dtype
from models.fastpath import probe_subset
from models.seq2seq import encode_pairs, generate, load_seq2seq, new_marian, pair_batches
from models.training import Recipe, fit, one_cycle, staged

VAL_PAIRS = 200


@dataclass(frozen=True)
class PairRecipe(Recipe):
    batch: int = 16
    max_length: int = 128


RECIPES = {"pretrained": PairRecipe(epochs=3, lr=5e-5), "scratch": PairRecipe(epochs=10, lr=1e-3, batch=32)}


def train(spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
          progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
    src, tgt = data.info.get("src", "en"), data.info.get("tgt", "pt")
    train_rows, val_rows = _train_val(data, settings.seed)
    scratch = not (settings.options.get("source") or spec.source)
    recipe = RECIPES["scratch" if scratch else "pretrained"]
    stage = staged(progress, 2)
    stage(0, "preparing the model")(Progress(0, 1))
    with tempfile.TemporaryDirectory() as tmp:
        if scratch:
            size = str(settings.options.get("size", "small"))
            folder = new_marian(Path(tmp) / "marian", train_rows["source"].to_list(),
                                train_rows["reference"].to_list(), size=size, seed=settings.seed)
            source: str | Path = folder
        else:
            source = str(settings.options.get("source") or spec.source)
        model, tokenizer = load_seq2seq(source, device)
    pairs = [(src, tgt)] if scratch else []
    target_token = str(settings.options.get("target_token", ""))
    engine = HFEngine(model, tokenizer, pairs or _pairs_of(model, tokenizer, src, tgt), target_token=target_token,
                      num_beams=1)
    predictor = TranslationPredictor(engine, spec.key, src, tgt,
                                     source="" if scratch else str(source))
    cancel.raise_if_cancelled()
    prefixed = engine._inputs(train_rows["source"].to_list(), src, tgt)
    src_ids, tgt_ids = encode_pairs(tokenizer, prefixed, train_rows["reference"].to_list(), recipe.max_length)
    batches = pair_batches(src_ids, tgt_ids, recipe.batch, pad_id=tokenizer.pad_token_id, device=device,
                           seed=settings.seed)
    val_sources, val_refs = val_rows["source"].to_list(), val_rows["reference"].to_list()

    def loss_fn(net: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        input_ids, mask, labels = batch
        return net(input_ids=input_ids, attention_mask=mask, labels=labels).loss

    def validate(net: torch.nn.Module) -> dict[str, float]:
        import sacrebleu

        outputs = [c[0] for c in generate(net, tokenizer, engine._inputs(val_sources, src, tgt), num_beams=1)]
        return {"val_chrf": float(sacrebleu.corpus_chrf(outputs, [val_refs]).score),
                "val_bleu": float(sacrebleu.corpus_bleu(outputs, [val_refs]).score)}

    epochs = settings.epochs or recipe.epochs
    steps = -(-len(src_ids) // recipe.batch)
    result = fit(model, batches, steps, loss_fn=loss_fn, validate=validate,
                 # bf16 autocast on GPUs that have it; not fp16, whose range Marian's attention
                 # masks and logit biases overflow (a GPU run found this loop in fp32 on CUDA)
                 config=recipe.loop(epochs, monitor="val_chrf", mode="max", amp=amp_dtype(device) == torch.bfloat16),
                 device=device, progress=stage(1, "training"), cancel=cancel,
                 lr_schedule=one_cycle(warmup=0.06, floor=0.0))
    model.eval()
    engine.num_beams = 4
    predictor.probe, predictor.probe_src = tuple(probe_subset(val_sources, PROBE_SENTENCES)), src
    best = result.history[result.best_epoch - 1]
    metrics = {"val_chrf": best["val_chrf"], "val_bleu": best["val_bleu"], "best_epoch": float(result.best_epoch),
               "train_pairs": float(len(src_ids)), "seconds": result.seconds}
    info = {"pair": f"{src}-{tgt}", "recipe": recipe.__dict__, "scratch": scratch}
    return TrainOutcome(predictor, metrics, history=result.history, info=info)


def _train_val(data: DomainData, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = data.frame.filter(pl.col("reference").is_not_null() & (pl.col("reference") != "")
                              & (pl.col("source") != ""))
    splits = set(frame["split"].unique().to_list())
    if "train" in splits:
        train_rows = frame.filter(pl.col("split") == "train")
        val_rows = frame.filter(pl.col("split") == "val").head(VAL_PAIRS)
    else:
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        n_val = min(VAL_PAIRS, max(1, shuffled.height // 10))
        val_rows, train_rows = shuffled.head(n_val), shuffled.slice(n_val)
    if train_rows.height < 10 or val_rows.is_empty():
        raise DataError(f"{data.name} has {frame.height} sentence pairs with references; fine-tuning needs at "
                        "least 20 (source<TAB>reference lines)")
    return train_rows, val_rows


def _pairs_of(model: torch.nn.Module, tokenizer: object, src: str, tgt: str) -> list[tuple[str, str]]:
    from domains.translation.engines import multilingual_pairs

    found = multilingual_pairs(tokenizer)
    return found if (src, tgt) in found else [(src, tgt)]
