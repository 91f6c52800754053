"""Medical image datasets as polars frames (one row per image, see ``domains.images``).

Sources: any MedMNIST-layout ``.npz`` (keys ``{train,val,test}_{images,labels}``, any
subset of splits; grey or RGB; binary or multi-class), found by explicit path, in
``$DOMAINLENS_DATA`` or in medmnist's cache ``~/.medmnist`` (which the ``medmnist``
package fills when online), or a folder of images in class sub-folders.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from domains.base import DataError, DataSource, DomainData
from domains.images import IMAGE_SUFFIXES, image_frame, open_study
from domains.io import check_upload_size

DEFAULT = "pneumoniamnist"
SPLITS = ("train", "val", "test")

# Label names MedMNIST's npz files do not carry; the positive class is what the risk
# score and the worklist track for binary sets.
KNOWN: dict[str, dict[str, Any]] = {
    "pneumoniamnist": {"title": "PneumoniaMNIST (chest X-ray)", "labels": ["normal", "pneumonia"], "positive": 1,
                       "flip": False},
    "breastmnist": {"title": "BreastMNIST (ultrasound)", "labels": ["malignant", "normal or benign"],
                    "positive": 0, "flip": True},
    "chestmnist": {"title": "ChestMNIST", "labels": None, "positive": 1, "flip": False},
    "dermamnist": {"title": "DermaMNIST (dermatoscope)", "labels": [
        "actinic keratoses", "basal cell carcinoma", "benign keratosis", "dermatofibroma", "melanoma",
        "melanocytic nevi", "vascular lesions"], "positive": None, "flip": True},
    "bloodmnist": {"title": "BloodMNIST (blood cell microscope)", "labels": [
        "basophil", "eosinophil", "erythroblast", "immature granulocytes", "lymphocyte", "monocyte",
        "neutrophil", "platelet"], "positive": None, "flip": True},
}

SOURCES = (
    DataSource(DEFAULT, KNOWN[DEFAULT]["title"],
               "MedMNIST v2 PneumoniaMNIST, 28x28 chest X-rays (CC BY 4.0): 0 normal, 1 pneumonia.",
               kind="path"),
)


def search_paths(name: str) -> list[Path]:
    """Where a MedMNIST subset is looked for, in order."""
    paths = []
    env = os.environ.get("DOMAINLENS_DATA")
    if env:
        base = Path(env).expanduser()
        paths += [base] if base.suffix == ".npz" else [base / f"{name}.npz", base / f"{name}_28.npz"]
    cache = Path(os.environ.get("MEDMNIST_ROOT", "~/.medmnist")).expanduser()
    return [*paths, cache / f"{name}.npz", cache / f"{name}_28.npz"]


def find_medmnist(name: str = DEFAULT) -> Path:
    for path in search_paths(name):
        if path.is_file():
            return path
    downloaded = _download_with_medmnist(name)
    if downloaded is not None:
        return downloaded
    tried = ", ".join(str(p) for p in search_paths(name))
    raise DataError(
        f"{name}.npz was not found (looked in: {tried}). Put the MedMNIST file there, set DOMAINLENS_DATA "
        "to its folder or path, or 'pip install medmnist' on a connected machine to download it."
    )


def _download_with_medmnist(name: str) -> Path | None:
    """medmnist fills its cache when online; off in tests and on offline machines."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("DOMAINLENS_OFFLINE") == "1":
        return None
    try:
        import medmnist
    except ImportError:
        return None
    info = medmnist.INFO.get(name)
    if info is None:
        return None
    root = Path("~/.medmnist").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    try:
        getattr(medmnist, info["python_class"])(split="train", download=True, root=str(root))
    except Exception:
        return None  # no network: fall through to the "not found" message
    found = [p for p in (root / f"{name}.npz", root / f"{name}_28.npz") if p.is_file()]
    return found[0] if found else None


def load(source: str | Path | None = None) -> DomainData:
    if source is None or str(source) in KNOWN:
        name = str(source or DEFAULT)
        return from_npz(find_medmnist(name), name=name)
    path = Path(source).expanduser()
    if path.is_dir():
        return from_folder(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; give a MedMNIST .npz file or a folder of class sub-folders.")
    return from_npz(path)


def from_npz(path: Path | io.BytesIO, name: str | None = None) -> DomainData:
    label = name or (path.stem if isinstance(path, Path) else "upload")
    try:
        archive = np.load(path, allow_pickle=False)  # never unpickle user files
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{label} is not a readable .npz archive ({exc}).") from exc
    with archive:
        keys = set(archive.files)
        present = [s for s in SPLITS if f"{s}_images" in keys or f"{s}_labels" in keys]
        if not present:
            raise DataError(f"{label} has keys {sorted(keys)}; a MedMNIST file needs train_images/train_labels "
                            "(and/or val_*, test_*).")
        frames, classes, channels = [], 0, 0
        for split in present:
            images, labels = _split_arrays(archive, split, label)
            channels = 1 if images.ndim == 3 else int(images.shape[3])
            classes = max(classes, int(labels.max()) + 1 if labels.size else 0)
            frames.append(_arrays_frame(images, labels, split))
    frame = pl.concat(frames)
    return _data(label, frame, classes, channels, source=str(path) if isinstance(path, Path) else "upload")


def _split_arrays(archive: Any, split: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    if f"{split}_images" not in archive.files or f"{split}_labels" not in archive.files:
        raise DataError(f"{label} has {split}_images or {split}_labels but not both.")
    images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[3] not in (1, 3)):
        raise DataError(f"{label}: {split}_images has shape {images.shape}; expected (N, H, W) or (N, H, W, 3).")
    if images.ndim == 4 and images.shape[3] == 1:
        images = images[..., 0]
    labels = np.asarray(labels).reshape(len(labels), -1)
    if labels.shape[1] != 1:
        raise DataError(f"{label}: {split}_labels has {labels.shape[1]} columns (multi-label); DomainLens "
                        "classifies one label per image.")
    if len(labels) != len(images):
        raise DataError(f"{label}: {split}_images has {len(images)} images but {split}_labels has "
                        f"{len(labels)} labels; they must match.")
    return images, labels[:, 0].astype(np.int64)


def _arrays_frame(images: np.ndarray, labels: np.ndarray, split: str) -> pl.DataFrame:
    n, h, w = images.shape[:3]
    c = 1 if images.ndim == 3 else images.shape[3]
    flat = np.ascontiguousarray(images).reshape(n, -1)
    return pl.DataFrame({
        "id": [f"{split}/{i:05d}" for i in range(n)],
        "pixels": [row.tobytes() for row in flat],
        "height": np.full(n, h, dtype=np.int32),
        "width": np.full(n, w, dtype=np.int32),
        "channels": np.full(n, c, dtype=np.int32),
        "label": labels.astype(np.int32),
        "split": [split] * n,
        "note": [""] * n,
    })


def from_folder(root: Path, seed: int = 42) -> DomainData:
    """ImageFolder layout: ``root/<class>/<image>``; a seeded stratified 80/10/10 split."""
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DataError(f"{root} needs one sub-folder per class (at least two); found {classes or 'none'}.")
    rows, skipped = [], []
    rng = np.random.default_rng(seed)
    for index, cls in enumerate(classes):
        files = sorted(p for p in (root / cls).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        cut = rng.permutation(len(files))
        for rank, i in enumerate(cut):
            split = "test" if rank < len(files) * 0.1 else "val" if rank < len(files) * 0.2 else "train"
            try:
                study = open_study(files[i].name, files[i].read_bytes())
            except DataError:
                skipped.append(files[i].name)
                continue
            rows.append(study.row(f"{cls}/{files[i].name}", label=index, split=split))
    if not rows:
        raise DataError(f"{root} has no readable images (PNG, JPEG, BMP or TIFF).")
    frame = image_frame(rows)
    data = _data(root.name, frame, len(classes), max(frame["channels"].to_list()), source=str(root),
                 labels=classes)
    if skipped:
        data.info["skipped"] = skipped
    return data


def _data(name: str, frame: pl.DataFrame, classes: int, channels: int, *, source: str,
          labels: list[str] | None = None) -> DomainData:
    key = name.removesuffix("_28")
    known = KNOWN.get(key, {})
    names = labels or known.get("labels") or [f"class {i}" for i in range(max(classes, 2))]
    if len(names) < classes:
        names = [*names, *(f"class {i}" for i in range(len(names), classes))]
    positive = known.get("positive", 1) if len(names) == 2 else None
    info = {"labels": list(names), "positive": positive, "channels": channels, "flip": known.get("flip", True),
            "source": source, "title": known.get("title", name), "splits": frame["split"].unique(maintain_order=True)
            .to_list()}
    return DomainData(known.get("title", name), frame, target="label", info=info)


def from_upload(name: str, payload: bytes, *, max_bytes: int) -> DomainData:
    check_upload_size(name, payload, max_bytes)
    if name.lower().endswith(".npz"):
        return from_npz(io.BytesIO(payload), name=Path(name).stem)
    if name.lower().endswith(".zip"):
        return _from_zip(name, payload)
    raise DataError(f"{name}: upload a MedMNIST .npz or a .zip of class folders (ImageFolder layout).")


def _from_zip(name: str, payload: bytes) -> DomainData:
    import tempfile

    try:
        archive = zipfile.ZipFile(io.BytesIO(payload))
    except zipfile.BadZipFile as exc:
        raise DataError(f"{name} is not a readable zip file.") from exc
    with tempfile.TemporaryDirectory() as tmp, archive:
        for member in archive.infolist():
            target = (Path(tmp) / member.filename).resolve()
            if not str(target).startswith(str(Path(tmp).resolve())) or member.is_dir():
                continue  # skip folders and any path that escapes the temp dir
            if Path(member.filename).suffix.lower() in IMAGE_SUFFIXES:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
        roots = [p for p in Path(tmp).iterdir() if p.is_dir()]
        root = roots[0] if len(roots) == 1 and len([p for p in roots[0].iterdir() if p.is_dir()]) >= 2 else Path(tmp)
        data = from_folder(root)
    data.name = Path(name).stem
    return data


def labels_of(data: DomainData) -> list[str]:
    return list(data.info["labels"])
