"""Real browser: start `domainlens serve`, score an applicant, train on an uploaded file, view a DICOM
study, and type markup into the text classifier."""

import re
import time
from pathlib import Path

import pytest

from tests.credit_data import custom_credit_csv
from tests.e2e.ui import choose_model as _choose_model
from tests.e2e.ui import install as _install
from tests.e2e.ui import metric as _metric
from tests.e2e.ui import metric_number

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_score_an_applicant_in_the_browser(browser_page) -> None:
    page = browser_page
    page.get_by_role("link", name="Credit Risk").first.click()
    _choose_model(page, "Gradient-boosted trees (LightGBM)")  # the built-in model, whatever else was trained
    page.get_by_role("tab", name="Predict").click()
    value = metric_number(page, "Probability of default")
    assert 0.0 <= value <= 100.0  # a percentage
    decision = _metric(page, "decision")
    assert "approve" in decision or "reject" in decision
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-credit.png"), full_page=False)


@pytest.mark.slow  # default suite: tests/domains/credit_risk/test_custom_schema.py trains on another schema
def test_train_and_evaluate_an_uploaded_schema_in_the_browser(browser_page, tmp_path: Path) -> None:
    """A credit file with other columns and good/bad targets: upload, train, evaluate, no code change."""
    page = browser_page
    csv = custom_credit_csv(tmp_path / "loans.csv")
    page.get_by_role("link", name="Credit Risk").first.click()
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload a file").click()
    sidebar.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(csv))
    # The target defaults to the last column and the bad value to the first sorted label.
    expect = pytest.importorskip("playwright.sync_api").expect
    expect(sidebar.get_by_role("combobox", name="Target column")).to_have_value("outcome", timeout=60_000)
    expect(sidebar.get_by_role("combobox", name="Value that marks a bad outcome")).to_have_value("bad")
    page.get_by_text("loans.csv: 600 rows x 5 columns; target: Outcome").wait_for(timeout=60_000)

    page.get_by_role("tab", name="Train").click()
    page.get_by_role("button", name="Start training").click()
    saved = page.get_by_text(re.compile(r"Trained and saved Gradient-boosted trees \(LightGBM\)")).first
    saved.wait_for(timeout=180_000)
    # The new checkpoint is selected in the sidebar and scored on the uploaded file.
    expect(sidebar.get_by_role("combobox", name="Model")).to_have_value(re.compile(r"gbm · [0-9a-f-]+ · AUC"),
                                                                        timeout=60_000)
    page.get_by_role("tab", name="Evaluate").click()
    auc = metric_number(page, "AUC")
    assert auc > 0.7
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-credit-upload.png"), full_page=True)


@pytest.mark.slow  # default suite: tests/dashboard/test_imaging_page.py opens the DICOM sample
def test_dicom_upload_with_window_and_grad_cam(imaging_cnn_dir, served, browser_page) -> None:
    from pydicom.data import get_testdata_file

    _install(imaging_cnn_dir, served, "medical_imaging", "cnn")
    page = browser_page
    page.get_by_role("link", name="Medical Imaging").first.click()
    page.get_by_role("tab", name="Predict").click()
    page.get_by_text("Upload an image or DICOM").click()
    uploader = page.get_by_test_id("stFileUploader").filter(has_text="DICOM (max")
    uploader.locator('input[type="file"]').set_input_files(str(get_testdata_file("RG1_UNCR.dcm", download=False)))
    page.get_by_text("Window level (center)").wait_for(timeout=120_000)
    page.get_by_text("Grad-CAM toward").first.wait_for(timeout=120_000)
    assert "pneumonia" in _metric(page, "prediction") or "normal" in _metric(page, "prediction")
    assert "Not for diagnostic use" in page.content()
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-dicom.png"), full_page=True)


def test_typed_markup_is_shown_as_text_not_run(text_tfidf_dir, served, browser_page) -> None:
    """Word highlighting is HTML we build: markup typed by a user must appear as text and never run."""
    _install(text_tfidf_dir, served, "text_classification", "tfidf_lr")
    page = browser_page
    page.get_by_role("link", name="Text Classification").first.click()
    _choose_model(page, "tfidf_lr · v1")
    page.get_by_role("tab", name="Predict").click()
    box = page.get_by_role("textbox", name="Text to classify")
    box.wait_for(timeout=120_000)
    typed = '<img src="x" onerror="window.__pwned = 1"> a dull, <b>boring</b> film'
    box.fill(typed)
    box.press("Control+Enter")  # commit the text area
    page.get_by_text("Why 'negative'").wait_for(timeout=120_000)
    page.get_by_text("onerror=").first.wait_for(timeout=60_000)  # the markup is visible as text
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0 and page.locator("b", has_text="boring").count() == 0
    assert "negative" in _metric(page, "prediction")
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-text.png"), full_page=True)


@pytest.mark.slow  # default suite: tests/dashboard/test_text_page.py checks the caption
def test_model_caption_shows_exact_scoring_where_int8_disagrees(tiny_classifier_dir, served, browser_page,
                                                                 monkeypatch) -> None:
    """This machine's verdict says both int8 engines disagree with float32 for the model:
    the sidebar says exact scoring serves, with the numbers on hover, and predictions work."""
    from models import fastpath
    from models.checkpoints import load_bundle
    from models.ct2 import INT8_PATH

    installed = load_bundle(_install(tiny_classifier_dir, served, "text_classification", "minilm_finetune"))
    monkeypatch.setenv("DOMAINLENS_HOME", str(served[1]))  # the served dashboard's folder
    for path in (INT8_PATH, "PyTorch int8"):
        fastpath._store(installed.identity, fastpath.Check(path, False, 64, 0.4, 0.31, "the page's bar"))
    page = browser_page
    page.get_by_role("link", name="Text Classification").first.click()
    _choose_model(page, "minilm_finetune · v1")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Scoring: float32 (exact): the int8 fast path disagreed with it on this machine.").wait_for(
        timeout=120_000)
    page.get_by_role("tab", name="Predict").click()
    box = page.get_by_role("textbox", name="Text to classify")
    box.wait_for(timeout=120_000)
    box.fill("A warm, funny and moving film.")
    box.press("Control+Enter")
    page.locator("span", has_text="funny").first.wait_for(timeout=60_000)  # scored and explained
    assert _metric(page, "prediction").split()[-1] in {"negative", "positive"}
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-text-exact.png"), full_page=True)


@pytest.mark.slow  # default suite: tests/dashboard/test_translation_page.py streams a Marian checkpoint
def test_translation_streams_and_stop_ends_it(tiny_marian_checkpoint, served, browser_page) -> None:
    """A tiny local Marian streams tokens into the page; Stop ends generation at once and
    keeps the text translated so far."""
    _install(tiny_marian_checkpoint, served, "translation", "marian_scratch")
    page = browser_page
    page.get_by_role("link", name="Translation").first.click()
    page.get_by_role("tab", name="Predict").click()
    box = page.get_by_role("textbox", name="Text to translate")
    box.wait_for(timeout=120_000)
    box.fill(" ".join(f"And the {i}th day God saw the light, and it was good." for i in range(60)))
    page.get_by_role("button", name="Translate", exact=True).click()  # straight after the paste
    page.get_by_text("English → Portuguese · transformers").first.wait_for(timeout=120_000)  # streaming started
    page.get_by_text(re.compile(r"^[1-9][0-9]* of 60 sentences translated$")).first.wait_for(timeout=120_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Stopped: generation ended at your request").wait_for(timeout=30_000)
    output = page.locator(".st-key-translation-translate-output")
    shown = output.inner_text()
    time.sleep(1.5)
    assert output.inner_text() == shown  # nothing more arrives
    assert shown
    sentences = page.locator('[data-testid="stMetric"]').filter(has_text="sentences translated").inner_text()
    assert "\\" not in shown  # escaped for markdown, shown as plain text
    # Stopped part-way (after the live counter showed a finished sentence): what streamed so far
    # is kept and the sentences finished before Stop are counted, fewer than all 60.
    assert 0 < int(re.search(r"(\d+)\s*$", sentences).group(1)) < 60
    page.screenshot(path=str(ROOT / ".pytest_cache" / "e2e-translation.png"), full_page=True)
