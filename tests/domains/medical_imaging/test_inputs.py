"""Every bad image input the issue lists gets a clear message or a sensible
conversion, and the predictor keeps working afterwards."""

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.data import get_testdata_file

from domains import registry
from domains.base import DataError
from domains.images import open_study
from domains.medical_imaging.predict import ImagePredictor
from models.checkpoints import load_bundle


def _encode(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _sample(name: str) -> bytes:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"pydicom-data sample {name} is missing"
    return Path(str(path)).read_bytes()


@pytest.fixture(scope="module")
def predictor(imaging_cnn_dir: Path) -> ImagePredictor:
    loaded = registry.get("medical_imaging").load(load_bundle(imaging_cnn_dir), torch.device("cpu"))
    assert isinstance(loaded, ImagePredictor)
    return loaded


def _predict_file(predictor: ImagePredictor, name: str, payload: bytes) -> dict[str, object]:
    domain = registry.get("medical_imaging")
    study = domain.open_study(name, payload)  # type: ignore[attr-defined]
    return predictor.predict(domain.study_frame(study)).row(0, named=True)  # type: ignore[attr-defined]


def test_non_image_file() -> None:
    with pytest.raises(DataError, match="not an image"):
        open_study("report.pdf", b"%PDF-1.7 not an image at all")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(fmt: str) -> None:
    payload = _encode(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8), fmt)
    with pytest.raises(DataError, match="truncated or corrupt"):
        open_study(f"cut.{fmt.lower()}", payload[: len(payload) // 2])


def test_16_bit_png_is_stretched(predictor: ImagePredictor) -> None:
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 15).astype(np.uint16)
    payload = _encode(ramp)
    study = open_study("deep.png", payload)
    pixels = study.render(0)
    assert pixels.dtype == np.uint8 and pixels.max() >= 250 and pixels.min() <= 5
    assert any("stretched to 8 bits" in note for note in study.notes)
    assert _predict_file(predictor, "deep.png", payload)["prediction"] in predictor.labels


def test_rgb_into_grey_model_is_converted(predictor: ImagePredictor) -> None:
    rgb = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    out = _predict_file(predictor, "colour.png", _encode(rgb))
    assert "colour converted to grey" in str(out["input_note"]) and "resized from 50x40" in str(out["input_note"])


def test_grey_into_rgb_model_is_repeated(predictor: ImagePredictor) -> None:
    import dataclasses

    from models.nets.vision import SmallResNet

    rgb_model = dataclasses.replace(predictor, net=SmallResNet(3, 2).eval(), channels=3)
    grey = np.full((28, 28), 128, dtype=np.uint8)
    out = _predict_file(rgb_model, "grey.png", _encode(grey))
    assert "grey repeated to 3 channels" in str(out["input_note"])


def test_huge_image_is_downscaled_not_a_crash(predictor: ImagePredictor) -> None:
    huge = np.zeros((10_000, 10_000), dtype=np.uint8)
    huge[2000:8000, 2000:8000] = 200
    payload = _encode(huge)
    study = open_study("huge.png", payload)
    assert max(study.frames.shape[1:3]) == 1024
    assert any("downscaled from 10000x10000" in note for note in study.notes)
    assert _predict_file(predictor, "huge.png", payload)["prediction"] in predictor.labels


def test_dicom_without_pixel_data() -> None:
    ds = pydicom.dcmread(io.BytesIO(_sample("RG1_UNCR.dcm")))
    del ds.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer)
    with pytest.raises(DataError, match="no pixel data"):
        open_study("header-only.dcm", buffer.getvalue())


def test_compressed_dicom_that_cannot_be_decoded() -> None:
    # JPEG-LS needs a codec plugin (pylibjpeg-libjpeg or gdcm) that the default set-up does not install.
    with pytest.raises(DataError, match=r"JPEG-LS.*cannot decode.*pylibjpeg"):
        open_study("mr.dcm", _sample("emri_small_jpeg_ls_lossless.dcm"))


def test_jpeg2000_dicom_decodes_through_pillow() -> None:
    compressed = open_study("RG1_J2KR.dcm", _sample("RG1_J2KR.dcm"))
    plain = open_study("RG1_UNCR.dcm", _sample("RG1_UNCR.dcm"))
    np.testing.assert_array_equal(compressed.render(0), plain.render(0))  # lossless


def test_chest_xray_dicom_window_header_and_prediction(predictor: ImagePredictor) -> None:
    study = open_study("RG1_UNCR.dcm", _sample("RG1_UNCR.dcm"))
    assert study.header["modality"] == "CR" and study.header["body part"] == "CHEST"
    assert "pixel spacing (mm)" in study.header and study.invert  # MONOCHROME1
    assert "PatientName" not in study.header and "patient" not in " ".join(study.header).lower()
    narrow = study.render(0, (study.window[0], study.window[1] / 4))
    wide = study.render(0)
    assert narrow.std() > wide.std()  # a narrower window raises contrast
    out = _predict_file(predictor, "RG1_UNCR.dcm", _sample("RG1_UNCR.dcm"))
    assert out["prediction"] in predictor.labels and 0.0 <= float(out["score"]) <= 1.0  # type: ignore[arg-type]


def test_multiframe_dicom_scrolls() -> None:
    study = open_study("emri_small.dcm", _sample("emri_small.dcm"))
    assert study.frame_count == 10
    assert not np.array_equal(study.render(0), study.render(9))


def test_predictor_keeps_working_after_bad_inputs(predictor: ImagePredictor) -> None:
    for payload in (b"junk", _encode(np.zeros((8, 8), np.uint8))[:20]):
        with pytest.raises(DataError):
            open_study("bad.png", payload)
    assert _predict_file(predictor, "ok.png", _encode(np.full((28, 28), 90, np.uint8)))["prediction"]
