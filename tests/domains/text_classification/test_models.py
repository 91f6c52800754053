"""Every text model family: training, checkpoints, attributions and bad inputs at predict
time. Transformer paths use a tiny local BERT, so they run offline in seconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from domains import registry
from domains.base import DataError, DomainData, DomainLensError, TrainSettings
from domains.charts import attribution_html
from domains.text_classification.encoders import SequenceClassifierPredictor, TransformerPredictor
from domains.text_classification.predictor import TORCH_INT8, TextPredictor
from domains.training import train_and_save
from models.checkpoints import list_bundles, load_bundle
from models.control import CancelledError, CancelToken
from models.ct2 import INT8_PATH
from models.fastpath import EXACT
from tests.text_fixtures import break_fast_paths

CPU = torch.device("cpu")
DOMAIN = registry.get("text_classification")


def _train(key: str, data: DomainData, source: Path | None = None, epochs: int | None = None,
           out: Path | None = None) -> tuple[TextPredictor, Path]:
    spec = DOMAIN.spec(key)
    if source is not None:
        spec = replace(spec, source=str(source))
    outcome = train_and_save(DOMAIN, spec, data, TrainSettings(epochs=epochs), device=CPU, progress=lambda p: None,
                             cancel=CancelToken(), out_dir=out)
    assert outcome.bundle is not None
    assert isinstance(outcome.predictor, TextPredictor)
    return outcome.predictor, outcome.bundle.path


def _texts(data: DomainData, n: int = 40) -> list[str]:
    return data.frame["text"].head(n).to_list()


def test_tfidf_learns_sentiment_and_round_trips(small_reviews: DomainData, tmp_path: Path) -> None:
    predictor, path = _train("tfidf_lr", small_reviews, out=tmp_path / "tfidf")
    report = DOMAIN.evaluate(predictor, DOMAIN.load_data(), split="test")
    assert report.metrics["accuracy"] > 0.6  # 600 training reviews, 1,275 unseen test reviews
    reloaded = DOMAIN.load(load_bundle(path), CPU)
    frame = pl.DataFrame({"text": _texts(small_reviews)})
    assert predictor.predict(frame).equals(reloaded.predict(frame))
    assert not (path / "model.pkl").exists() and (path / "vocabulary.txt").is_file()


def test_tfidf_attributions_are_exact_and_point_the_right_way(small_reviews: DomainData) -> None:
    predictor, _ = _train("tfidf_lr", small_reviews)
    attribution = predictor.explain_text("A dull, boring and lifeless mess")
    words = dict(zip(attribution.frame()["word"], attribution.frame()["attribution"], strict=True))
    assert attribution.label == "negative" and words["boring"] > 0  # pushes toward the predicted class
    praise = predictor.explain_text("A brilliant, moving and funny film")
    assert praise.label == "positive"


def test_zero_shot_uses_class_descriptions_without_training(tiny_bert_dir: Path, small_reviews: DomainData) -> None:
    predictor, path = _train("zero_shot", small_reviews, source=tiny_bert_dir)
    meta = load_bundle(path).metadata
    assert set(meta["descriptions"]) == {"negative", "positive"} and meta["source"] == str(tiny_bert_dir)
    probs, _ = predictor.proba(_texts(small_reviews))
    assert probs.shape == (40, 2) and np.allclose(probs.sum(1), 1)
    reloaded = DOMAIN.load(load_bundle(path), CPU)
    assert np.allclose(reloaded.proba(_texts(small_reviews))[0], probs, atol=1e-5)  # type: ignore[attr-defined]


def test_linear_head_trains_and_round_trips(tiny_bert_dir: Path, small_reviews: DomainData, tmp_path: Path) -> None:
    predictor, path = _train("minilm_linear", small_reviews, source=tiny_bert_dir, epochs=5, out=tmp_path / "lin")
    assert set(load_bundle(path).tensors()) == {"head.weight", "head.bias"}  # the encoder is referenced, not copied
    reloaded = DOMAIN.load(load_bundle(path), CPU)
    frame = pl.DataFrame({"text": _texts(small_reviews)})
    assert np.allclose(predictor.predict(frame)["confidence"], reloaded.predict(frame)["confidence"], atol=1e-5)


def test_finetune_saves_pretrained_folder_and_reloads(tiny_bert_dir: Path, small_reviews: DomainData,
                                                      tmp_path: Path) -> None:
    predictor, path = _train("minilm_finetune", small_reviews, source=tiny_bert_dir, epochs=1, out=tmp_path / "ft")
    assert (path / "hf" / "config.json").is_file() and (path / "hf" / "model.safetensors").is_file()
    assert (path / "hf" / "tokenizer.json").is_file()
    meta = load_bundle(path).metadata
    assert meta["labels"] == ["negative", "positive"] and len(meta["history"]) == 1
    assert "val_accuracy" in meta["metrics"] and meta["max_length"] == 64  # 99th percentile of review lengths
    reloaded = DOMAIN.load(load_bundle(path), CPU)
    texts = _texts(small_reviews)
    assert np.allclose(reloaded.proba(texts)[0], predictor.proba(texts)[0], atol=1e-5)  # type: ignore[attr-defined]


def test_hub_model_offline_is_a_clear_error(small_reviews: DomainData) -> None:
    with pytest.raises(DomainLensError, match="HF_HUB_OFFLINE"):  # ModelSourceError, printed as one line
        _train("distilbert", small_reviews)


def test_cancel_writes_no_checkpoint(tiny_bert_dir: Path, small_reviews: DomainData) -> None:
    cancel = CancelToken()
    spec = replace(DOMAIN.spec("minilm_finetune"), source=str(tiny_bert_dir))

    def stop_soon(progress: object) -> None:
        cancel.cancel()

    with pytest.raises(CancelledError):
        train_and_save(DOMAIN, spec, small_reviews, TrainSettings(epochs=2), device=CPU, progress=stop_soon,
                       cancel=cancel)
    assert list_bundles("text_classification") == []


def test_integrated_gradients_are_complete(tiny_bert_dir: Path, small_reviews: DomainData) -> None:
    predictor, _ = _train("minilm_finetune", small_reviews, source=tiny_bert_dir, epochs=1)
    assert isinstance(predictor, TransformerPredictor)
    attribution = predictor.explain_text("The acting was wooden but the ending surprised me")
    # Completeness: attributions sum to f(x) - f(baseline), up to the integral's discretisation.
    total = sum(s for _, _, s in attribution.segments)
    assert abs(attribution.gap) <= 0.05 * max(abs(total), 0.1) + 1e-3
    assert [attribution.text[a:b] for a, b, _ in attribution.segments][:3] == ["The", "acting", "was"]


def test_int8_scoring_matches_float_and_is_checked_on_this_machine(tiny_classifier_dir: Path,
                                                                  small_reviews: DomainData) -> None:
    loaded = DOMAIN.load(load_bundle(tiny_classifier_dir), CPU)
    assert isinstance(loaded, SequenceClassifierPredictor) and loaded.int8 and len(loaded.probe) == 64
    threads = torch.get_num_threads()
    scoring = loaded.scoring()
    assert scoring is not None and scoring.used == INT8_PATH  # a BERT classifier scores on CTranslate2
    assert torch.get_num_threads() == threads  # building it leaves PyTorch's threads alone
    (check,) = scoring.checks
    assert check.passed and check.probes == 64 and not check.cached
    texts = _texts(small_reviews, 200)
    fast, _ = loaded.proba(texts)
    exact = loaded.probabilities_on(texts, EXACT)
    assert exact.max(1).mean() > 0.8  # a decisive model, so agreeing predictions mean something
    assert np.mean(fast.argmax(1) == exact.argmax(1)) >= 0.97 and np.abs(fast - exact).max(1).mean() < 0.01
    again = DOMAIN.load(load_bundle(tiny_classifier_dir), CPU).scoring()  # another load on this machine
    assert again is not None and again.used == INT8_PATH and again.checks[0].cached


def test_a_fast_path_that_disagrees_here_is_not_used(tiny_classifier_dir: Path, small_reviews: DomainData,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    break_fast_paths(monkeypatch)
    loaded = DOMAIN.load(load_bundle(tiny_classifier_dir), CPU)
    assert isinstance(loaded, SequenceClassifierPredictor)
    scoring = loaded.scoring()
    assert scoring is not None and scoring.used == TORCH_INT8  # the next candidate holds up
    assert [(c.path, c.passed) for c in scoring.checks] == [(INT8_PATH, False), (TORCH_INT8, True)]
    assert scoring.checks[0].agreement < 0.5
    break_fast_paths(monkeypatch, ct2=False, torch_int8=True)
    fresh = SequenceClassifierPredictor(loaded.model, loaded.tokenizer, loaded.labels, max_length=loaded.max_length,
                                        device=CPU, model_key=loaded.model_key, probe=loaded.probe)
    scoring = fresh.scoring()
    assert scoring is not None and scoring.used == EXACT and not scoring.fast
    assert [c.passed for c in scoring.checks] == [False, False] and "disagreed" in scoring.short()
    texts = _texts(small_reviews, 50)
    assert np.array_equal(fresh.logits(texts)[0], fresh.logits_on(texts, EXACT)[0])  # exact scoring serves


def test_predict_handles_empty_long_and_any_script(tiny_bert_dir: Path, small_reviews: DomainData) -> None:
    tfidf, _ = _train("tfidf_lr", small_reviews)
    tuned, _ = _train("minilm_finetune", small_reviews, source=tiny_bert_dir, epochs=1)
    texts = ["", "   \n\t", "great " * 20_000, "Loved it 😍🎬", "فيلم رائع جدا", "电影很好看 mixed English"]
    for predictor in (tfidf, tuned):
        out = predictor.predict(pl.DataFrame({"text": texts}))
        assert out.height == len(texts)
        assert out["prediction"][:2].to_list() == [None, None] and out["note"][0].startswith("empty text")
        assert out["prediction"][2:].null_count() == 0
        assert bool(out["truncated"][2]) and not out["truncated"][3]
        probs = out.select(pl.col("^p_.*$")).to_numpy()[2:]
        assert np.allclose(probs.sum(1), 1)
    long = tuned.explain_text("great " * 20_000)
    assert long.truncated and len(long.text) < 1000  # only the part the model read is highlighted


def test_explaining_empty_text_is_a_clear_error(small_reviews: DomainData) -> None:
    tfidf, _ = _train("tfidf_lr", small_reviews)
    with pytest.raises(DataError, match="empty"):
        DOMAIN.explain_text(tfidf, "   ")  # type: ignore[attr-defined]


def test_attribution_html_escapes_user_text() -> None:
    text = 'Nice <script>alert("x")</script> & <b>bold</b>'
    html = attribution_html(text, [(0, 4, 0.5), (5, 13, -0.2)])
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html and "&amp;" in html
    assert html.count("<span") == 2


def test_predict_finds_the_text_column_by_name(small_reviews: DomainData) -> None:
    tfidf, _ = _train("tfidf_lr", small_reviews)
    out = tfidf.predict(pl.DataFrame({"id": [1, 2], "review": ["awful, boring", "wonderful and moving"]}))
    assert out["prediction"].null_count() == 0


@pytest.mark.gpu
def test_finetune_and_score_on_cuda(tiny_bert_dir: Path, small_reviews: DomainData) -> None:
    cuda = torch.device("cuda")
    spec = replace(DOMAIN.spec("minilm_finetune"), source=str(tiny_bert_dir))
    outcome = DOMAIN.train(spec, small_reviews, TrainSettings(epochs=1), device=cuda, progress=lambda p: None,
                           cancel=CancelToken())
    predictor = outcome.predictor
    assert isinstance(predictor, TransformerPredictor) and not predictor.int8  # int8 is a CPU path
    probs, _ = predictor.proba(_texts(small_reviews))
    assert np.allclose(probs.sum(1), 1, atol=1e-3)
    assert predictor.explain_text("a dull film").segments


def test_int8_is_kept_only_where_it_holds_validation_accuracy(tiny_bert_dir: Path, small_reviews: DomainData,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from domains.text_classification.train import keep_int8_if_accurate

    predictor, _ = _train("minilm_finetune", small_reviews, source=tiny_bert_dir, epochs=1)
    assert isinstance(predictor, TransformerPredictor)
    rows = small_reviews.frame.head(200)
    y = np.array([predictor.labels.index(v) for v in rows["label"].to_list()])
    right = np.eye(2, dtype=np.float32)[y]
    flipped = right.copy()
    flipped[:20] = right[:20, ::-1]  # int8 gets 20 of 200 (10 points) wrong that float gets right

    def fake_logits(texts: list[str], path: str) -> tuple[np.ndarray, np.ndarray]:
        return (right if path == EXACT else flipped), np.zeros(len(texts), dtype=bool)

    monkeypatch.setattr(predictor, "logits_on", fake_logits)
    monkeypatch.setattr(predictor, "path_in_use", lambda fast=True: INT8_PATH)
    assert keep_int8_if_accurate(predictor, rows, predictor.labels) == pytest.approx(-10.0)
    assert predictor.int8 is False and predictor.to_bundle().metadata["int8"] is False
    flipped[:20] = right[:20]
    flipped[0] = right[0, ::-1]  # one flip in 200 is noise: int8 stays
    assert keep_int8_if_accurate(predictor, rows, predictor.labels) == pytest.approx(-0.5)
    assert predictor.int8 is True


def test_ct2_conversion_is_cached_per_checkpoint_and_other_heads_keep_pytorch(
        tiny_bert_dir: Path, small_reviews: DomainData, tmp_path: Path) -> None:
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        DistilBertConfig,
        DistilBertForSequenceClassification,
    )

    from models.checkpoints import artifacts_root
    from models.text import Ct2SequenceClassifier

    _, path = _train("minilm_finetune", small_reviews, source=tiny_bert_dir, epochs=1, out=tmp_path / "ft")
    texts = _texts(small_reviews, 30)
    scores = []
    for _ in range(2):  # two loads of one checkpoint: one conversion
        loaded = DOMAIN.load(load_bundle(path), CPU)
        assert isinstance(loaded, SequenceClassifierPredictor) and loaded.ct2_engine() is not None
        scores.append(loaded.probabilities_on(texts, INT8_PATH))
    assert len(list((artifacts_root() / "ctranslate2-cache").iterdir())) == 1
    assert np.allclose(scores[0], scores[1])
    loaded.forget_fast_copies()  # new weights: the converted copy no longer matches them
    assert loaded.folder is None and loaded._ct2 is None
    # A network built in code (its config omits position_embedding_type) converts from a scratch save.
    fresh = BertForSequenceClassification(BertConfig(vocab_size=loaded.tokenizer.vocab_size, hidden_size=16,
                                                     num_hidden_layers=1, num_attention_heads=2,
                                                     intermediate_size=32))
    engine = Ct2SequenceClassifier.from_model(fresh, loaded.tokenizer, None, threads=1)
    ids = loaded.tokenizer(["a fine film"])["input_ids"]
    with torch.inference_mode():
        exact = fresh.eval()(input_ids=torch.tensor(ids)).logits.numpy()
    assert np.abs(engine.logits(ids) - exact).max() < 0.05
    distil = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=50, dim=16, n_layers=1, n_heads=2,
                                                                  hidden_dim=32))
    assert not Ct2SequenceClassifier.supports(distil)


def test_mpnet_linear_references_its_asset_and_round_trips(tiny_bert_dir: Path, small_reviews: DomainData,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mpnet_linear key on a tiny stand-in for the asset: the checkpoint keeps the head
    and the asset's name, and reopens through the asset."""
    from domains.text_classification import predictor as text_predictor

    monkeypatch.setattr(text_predictor, "mpnet_path", lambda: tiny_bert_dir)
    spec = DOMAIN.spec("mpnet_linear")
    assert spec.source == text_predictor.MPNET_ASSET and "Apache-2.0" in spec.notes
    predictor, path = _train("mpnet_linear", small_reviews, epochs=5, out=tmp_path / "mpnet")
    bundle = load_bundle(path)
    assert set(bundle.tensors()) == {"head.weight", "head.bias"} and bundle.metadata["source"] == "all-mpnet-base-v2"
    frame = pl.DataFrame({"text": _texts(small_reviews)})
    reloaded = DOMAIN.load(bundle, CPU)
    assert np.allclose(predictor.predict(frame)["confidence"], reloaded.predict(frame)["confidence"], atol=1e-5)


def test_mpnet_finetune_starts_from_the_probe_and_saves_only_what_it_tuned(
        tiny_bert_dir: Path, small_reviews: DomainData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LP-FT on a tiny stand-in for the asset: the head is fitted on frozen embeddings,
    then the encoder trains; the checkpoint holds the tuned weights and the asset's name,
    and reopens to the same scores."""
    from transformers import AutoModel

    from domains.text_classification import predictor as text_predictor
    from domains.text_classification import train as text_train

    monkeypatch.setattr(text_predictor, "mpnet_path", lambda: tiny_bert_dir)
    spec = DOMAIN.spec("mpnet_finetune")
    assert spec.source == text_predictor.MPNET_ASSET and "Apache-2.0" in spec.notes
    outcome = train_and_save(DOMAIN, spec, small_reviews, TrainSettings(epochs=1), device=CPU,
                             progress=lambda p: None, cancel=CancelToken(), out_dir=tmp_path / "full")
    assert outcome.bundle is not None
    assert "probe_val_accuracy" in outcome.history[0] and outcome.history[0]["best_epoch"] == 1
    bundle = load_bundle(outcome.bundle.path)
    tensors = bundle.tensors()
    original = AutoModel.from_pretrained(tiny_bert_dir).state_dict()
    tuned = {k.removeprefix("encoder."): v for k, v in tensors.items() if k.startswith("encoder.")}
    assert bundle.metadata["tuned"] == [""] and set(tuned) == set(original)  # all of it trained
    assert any(not torch.equal(tuned[k], original[k]) for k in original)
    frame = pl.DataFrame({"text": _texts(small_reviews)})
    reloaded = DOMAIN.load(bundle, CPU)
    assert isinstance(outcome.predictor, TextPredictor)
    assert np.allclose(outcome.predictor.predict(frame)["confidence"], reloaded.predict(frame)["confidence"],
                       atol=1e-5)

    # The cheaper recipe trains only the top layer: the checkpoint stores that layer alone.
    monkeypatch.setitem(text_train.RECIPES, "mpnet_finetune", replace(text_train.RECIPES["mpnet_finetune"],
                                                                      top_layers=1))
    _, path = _train("mpnet_finetune", small_reviews, epochs=1, out=tmp_path / "top")
    top = load_bundle(path)
    assert top.metadata["tuned"] == ["encoder.layer.1."]
    assert {k for k in top.tensors() if k.startswith("encoder.")} == {
        f"encoder.{k}" for k in original if k.startswith("encoder.layer.1.")}


def test_a_finetuned_checkpoint_that_does_not_fit_its_source_is_refused(
        tiny_bert_dir: Path, small_reviews: DomainData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file, save_file

    from domains.text_classification import predictor as text_predictor
    from models.checkpoints import CheckpointError

    monkeypatch.setattr(text_predictor, "mpnet_path", lambda: tiny_bert_dir)
    _, path = _train("mpnet_finetune", small_reviews, epochs=1, out=tmp_path / "ft")
    weights = next(path.glob("*.safetensors"))
    tensors = load_file(weights)
    tensors["encoder.encoder.layer.7.output.dense.weight"] = torch.zeros(2, 2)  # a deeper encoder's layer
    save_file(tensors, weights)
    with pytest.raises(CheckpointError, match="do not fit all-mpnet-base-v2"):
        DOMAIN.load(load_bundle(path), CPU)


def test_train_top_layers_freezes_everything_below() -> None:
    from transformers import BertConfig, BertModel

    from models.text import train_top_layers

    model = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                                 intermediate_size=32))
    assert train_top_layers(model, 2) == ["encoder.layer.1.", "encoder.layer.2."]
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("encoder.layer.1.", "encoder.layer.2.")) for n in trainable)
    assert train_top_layers(model, None) == [""] and all(p.requires_grad for p in model.parameters())
    with pytest.raises(ValueError, match="top 4 layers"):
        train_top_layers(model, 4)


def test_distillation_loss_imitates_the_teacher_and_uses_labels_where_given() -> None:
    from domains.text_classification.train import distillation_loss

    teacher = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    unlabelled = torch.tensor([-1, -1])
    assert float(distillation_loss(teacher.clone(), teacher, unlabelled)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(-teacher, teacher, unlabelled)) > 0.5  # the opposite answer costs
    labelled = torch.tensor([1, 1])  # the labels disagree with the teacher's first row: they count
    assert float(distillation_loss(teacher.clone(), teacher, labelled)) > 0.1
    student = torch.zeros(2, 2, requires_grad=True)
    distillation_loss(student, teacher, unlabelled).backward()
    assert student.grad is not None and float(student.grad[0, 0]) < 0  # pushed toward the teacher's class


def test_transfer_texts_are_unlabelled_plot_sentences_and_altered_copies(small_reviews: DomainData) -> None:
    from domains.text_classification import data as text_data
    from domains.text_classification.train import augmented

    reviews = text_data.load("rt_sentiment")
    extra = text_data.transfer_texts(reviews)
    assert len(extra) > 3000 and not set(extra) & set(reviews.frame["text"].to_list())
    assert text_data.transfer_texts(small_reviews) == []  # a labelled upload has none of its own
    texts = small_reviews.frame["text"].head(50).to_list()
    copies = augmented(texts, seed=1)
    assert copies == augmented(texts, seed=1) and copies != augmented(texts, seed=2)
    assert 0 < len(copies) <= len(texts) and not set(copies) & set(texts[:5]) - {""}
    assert all(set(c.split()) <= set(" ".join(texts).split()) for c in copies)  # words of the reviews only


def test_distilled_model_learns_from_a_named_teacher(tiny_bert_dir: Path, small_reviews: DomainData,
                                                     text_tfidf_dir: Path, tmp_path: Path) -> None:
    """The student trains on the teacher's answers (here a TF-IDF checkpoint, named with the
    teacher option), saves as a MiniLM-kind checkpoint with its scoring rate, and reloads."""
    spec = replace(DOMAIN.spec("minilm_distilled"), source=str(tiny_bert_dir))
    stages: list[str] = []
    outcome = train_and_save(DOMAIN, spec, small_reviews,
                             TrainSettings(epochs=1, options={"teacher": str(text_tfidf_dir)}), device=CPU,
                             progress=lambda p: stages.append(p.stage or ""), cancel=CancelToken(),
                             out_dir=tmp_path / "distilled")
    assert outcome.bundle is not None and isinstance(outcome.predictor, SequenceClassifierPredictor)
    assert any("teacher" in s for s in stages) and any("student" in s for s in stages)
    meta = load_bundle(outcome.bundle.path).metadata
    assert meta["model"] == "minilm_distilled" and meta["metrics"]["texts_per_second"] > 0
    reloaded = DOMAIN.load(load_bundle(outcome.bundle.path), CPU)
    texts = _texts(small_reviews)
    assert np.allclose(reloaded.proba(texts)[0], outcome.predictor.proba(texts)[0], atol=1e-5)  # type: ignore[attr-defined]


def test_distilling_without_a_teacher_says_which_to_train(tiny_bert_dir: Path, small_reviews: DomainData,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMAINLENS_HOME", str(tmp_path / "empty"))
    spec = replace(DOMAIN.spec("minilm_distilled"), source=str(tiny_bert_dir))
    with pytest.raises(DataError, match="train `mpnet_finetune` first"):
        DOMAIN.train(spec, small_reviews, TrainSettings(epochs=1), device=CPU, progress=lambda p: None,
                     cancel=CancelToken())
