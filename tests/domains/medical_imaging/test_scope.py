"""Inputs the model does not know are flagged before a verdict: other modalities from the
DICOM header, and images unlike the training data by their typicality score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from domains import registry
from domains.images import image_frame, pixels_row
from domains.medical_imaging.predict import ImagePredictor
from domains.medical_imaging.scope import fit_typicality, header_notes
from models.checkpoints import load_bundle


def test_header_notes_name_the_modality_and_body_part() -> None:
    assert header_notes({"modality": "CR", "body part": "CHEST"}) == []
    assert header_notes({"modality": "DX"}) == []
    mr = header_notes({"modality": "MR", "body part": "HEAD"})
    assert len(mr) == 2 and "MR scan" in mr[0] and "Head" in mr[1]


def test_typicality_separates_training_like_images_from_others() -> None:
    rng = np.random.default_rng(0)
    # "Training images": smooth blobs around a common shape; held-out ones from the same process.
    yy, xx = np.mgrid[0:28, 0:28] / 27.0
    def blobs(n: int) -> np.ndarray:
        centre = 0.5 + 0.08 * rng.standard_normal((n, 2))
        images = np.exp(-(((xx - centre[:, :1, None]) ** 2 + (yy - centre[:, 1:, None]) ** 2) / 0.05))
        return (images + 0.02 * rng.standard_normal(images.shape)).reshape(n, -1)
    reference = fit_typicality(blobs(1000))
    typical = reference.score(blobs(400))
    assert (typical > 1).mean() < 0.05  # ~1% by construction, with sampling noise
    assert (reference.score(rng.random((50, 784))) > 1).all()  # noise is nothing like them


def test_the_domain_flags_an_mr_study_and_noise_but_not_a_dataset_image(imaging_cnn_dir) -> None:
    from pydicom.data import get_testdata_file

    domain = registry.get("medical_imaging")
    data = domain.load_data()
    predictor = domain.load(load_bundle(imaging_cnn_dir), torch.device("cpu"))
    assert isinstance(predictor, ImagePredictor)
    own = data.frame.filter(pl.col("split") == "test").head(1)
    assert domain.scope_notes(predictor, data, own) == []
    path = get_testdata_file("emri_small.dcm", download=False)
    if path is None:
        pytest.skip("pydicom-data samples are not installed")
    study = domain.open_study("emri_small.dcm", Path(path).read_bytes())
    notes = domain.scope_notes(predictor, data, domain.study_frame(study), study)
    assert any("MR scan" in n for n in notes)
    noise = image_frame([pixels_row("noise", np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8))])
    assert any("does not look like the training images" in n for n in domain.scope_notes(predictor, data, noise))
