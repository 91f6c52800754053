"""Is an input the kind of image the model knows? A chest-X-ray classifier scores a brain
MR or a holiday photo as confidently as a radiograph, so before a verdict is shown:

* DICOM: the header's modality and body part must be a chest radiograph (CR/DX/DR, CHEST);
* any image: a typicality score, the reconstruction error of the image (as the model sees
  it) from the main components of the training images, divided by the error that 99% of
  held-out training images stay under. Above 1 the image does not look like the training
  data. It is a simple score, not a guarantee: it flags what is clearly different.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

RADIOGRAPHY = {"CR": "computed radiography", "DX": "digital X-ray", "DR": "digital radiography"}
MODALITY_NAMES = {"MR": "an MR scan", "CT": "a CT scan", "US": "an ultrasound", "NM": "a nuclear medicine study",
                  "PT": "a PET scan", "MG": "a mammogram", "XA": "an angiogram", "OT": "an 'other' image"}
COMPONENTS = 24
QUANTILE = 0.99
MAX_REFERENCE = 4000


def header_notes(header: Mapping[str, str], known: str = "chest X-rays") -> list[str]:
    """What the DICOM header says that the model was not trained on."""
    notes = []
    modality = header.get("modality", "").strip().upper()
    if modality and modality not in RADIOGRAPHY:
        what = MODALITY_NAMES.get(modality, f"modality {modality}")
        notes.append(f"The header says this is {what} ({modality}); the model only knows {known} "
                     "(CR/DX). Its verdict below does not apply to this image.")
    body = header.get("body part", "").strip().upper()
    if body and "CHEST" not in body and "THORAX" not in body and "LUNG" not in body:
        notes.append(f"The header's body part is {body.title()}; the model only knows {known}.")
    return notes


@dataclass(frozen=True)
class Typicality:
    """How far an image is from the training images' main components (see module doc)."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (K, D), orthonormal rows
    cutoff: float  # reconstruction error 99% of held-out training images stay under

    def score(self, images: np.ndarray) -> np.ndarray:
        """``images``: (N, D) floats in [0, 1]; 1.0 is the edge of what training looked like."""
        centred = np.asarray(images, dtype=np.float64) - self.mean
        residual = centred - (centred @ self.components.T) @ self.components
        return np.sqrt((residual**2).mean(axis=1)) / self.cutoff


def fit_typicality(images: np.ndarray, *, components: int = COMPONENTS, seed: int = 0) -> Typicality:
    """Principal components of (a sample of) training images; the cutoff comes from images
    held out of the fit, so it is not flattered by the images that shaped the components."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(flat))[:MAX_REFERENCE]
    cut = max(1, len(order) // 5)
    held, fit = flat[order[:cut]], flat[order[cut:]]
    mean = fit.mean(axis=0)
    _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
    basis = vt[: min(components, vt.shape[0])]
    centred = held - mean
    errors = np.sqrt(((centred - (centred @ basis.T) @ basis) ** 2).mean(axis=1))
    return Typicality(mean, basis, max(float(np.quantile(errors, QUANTILE)), 1e-6))
