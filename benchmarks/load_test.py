"""Twenty analysts on one DomainLens server at once, in real browsers (headless chromium).

Twenty browser sessions (separate contexts: separate cookies, uploads and Streamlit
sessions) spread over the five domain pages, all at the same time. Each runs its page's
main Predict flow with an input that carries its own marker ("session 7 ..."), then
checks that it sees its own marker and nobody else's. Two sessions also run a Live stream
(start, events arrive, stop) and one trains a model, refreshing its tab halfway through
the training and waiting for the checkpoint through the reattached job.

Reported: every session's result, exceptions shown on any page, cross-talk, p50/p95 time
to result per domain, the training's queue wait, and the server's peak memory (VmHWM),
against the same server's memory before the load (ratio, same run).

Run from the project root: .venv/bin/python -m benchmarks.load_test [--sessions 20]
(needs /usr/bin/chromium; starts its own server and waits for its warm-up)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.server_memory import memory_mb
from dashboard.cli import serve_in_background

DOMAINS = ("Credit Risk", "Medical Imaging", "Recommendations", "Text Classification", "Translation")
# How long one step of a session may take (a warm server answers within seconds; 20 sessions
# on 2 cores queue behind each other).
RESULT_TIMEOUT_MS = int(os.environ.get("DOMAINLENS_LOAD_TIMEOUT_MS", "600000"))


@dataclass
class Outcome:
    session: int
    domain: str
    role: str  # predict, live or train
    ok: bool = False
    seconds: float = 0.0
    error: str = ""
    crosstalk: list[str] = field(default_factory=list)
    exceptions: int = 0
    queue_wait_s: float = 0.0


def _marker(i: int) -> str:
    return f"session {i} "


async def _predict(page: Any, domain: str, i: int) -> None:
    """The page's main Predict flow, with this session's marker in the input where there is one."""
    await page.get_by_role("tab", name="Predict").first.click()
    if domain == "Credit Risk":
        box = page.get_by_role("spinbutton", name="Start from row of the dataset")
        await box.fill(str(i))
        await box.press("Enter")
        await page.locator('[data-testid="stMetric"]', has_text="Probability of default").first.wait_for(
            timeout=RESULT_TIMEOUT_MS)
        if await box.input_value() != str(i):  # the form shows this session's row, not another's
            raise AssertionError(f"row box shows {await box.input_value()!r}, expected {i}")
    elif domain == "Medical Imaging":
        await page.locator('[data-testid="stMetric"]', has_text="Prediction").first.wait_for(timeout=RESULT_TIMEOUT_MS)
        await page.get_by_text("Grad-CAM toward").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    elif domain == "Recommendations":
        await page.get_by_text(re.compile(r"Top 10 for user")).first.wait_for(timeout=RESULT_TIMEOUT_MS)
        await _pick_user(page, str(i + 1))
    elif domain == "Text Classification":
        box = page.get_by_role("textbox", name="Text to classify")
        await box.wait_for(timeout=RESULT_TIMEOUT_MS)
        await box.fill(f"{_marker(i)}thought the film was wonderful and moving.")
        await box.press("Control+Enter")
        await page.locator("span", has_text="wonderful").first.wait_for(timeout=RESULT_TIMEOUT_MS)  # explained
        await page.get_by_text(re.compile(r"Why '")).first.wait_for(timeout=RESULT_TIMEOUT_MS)
    elif domain == "Translation":
        box = page.get_by_role("textbox", name="Text to translate")
        await box.wait_for(timeout=RESULT_TIMEOUT_MS)
        await box.fill(f"The report of {_marker(i)}is ready. Please send the contract by Friday.")
        await page.get_by_role("button", name="Translate", exact=True).click()
        output = page.locator(".st-key-translation-translate-output")
        await output.filter(has_text="contrato").first.wait_for(timeout=RESULT_TIMEOUT_MS)


async def _pick_user(page: Any, user: str) -> None:
    """Type the user id into the searchable menu key by key and take the best match (the
    exact id comes first). ``fill`` loses the first character in this menu: "18" became "8"."""
    user_box = page.get_by_role("combobox", name="User")
    heading = page.get_by_text(f"Top 10 for user {user}", exact=True)
    for _ in range(3):  # a rerun arriving mid-typing closes the menu: type again
        await user_box.click()
        await user_box.press_sequentially(user, delay=80)
        await user_box.press("Enter")
        try:
            await heading.first.wait_for(timeout=RESULT_TIMEOUT_MS // 3)
            return
        except Exception:
            continue
    raise AssertionError(f"the page never showed user {user}'s recommendations")


async def _live(page: Any) -> None:
    await page.get_by_role("tab", name="Live", exact=True).first.click()
    await page.get_by_role("button", name="Start", exact=True).click()
    await page.wait_for_function("""() => [...document.querySelectorAll('[data-testid="stMetric"]')]
        .some(m => /Events scored/.test(m.innerText) && /[1-9]/.test(m.innerText.split('\\n').pop()))""",
                                 timeout=RESULT_TIMEOUT_MS)
    await page.get_by_role("button", name="Stop", exact=True).click()
    await page.locator('[data-testid="stMetric"]', has_text="stopped").first.wait_for(timeout=60_000)


async def _train(page: Any, outcome: Outcome) -> None:
    """Train the scorecard, refresh the tab while it trains, and finish through the reattached job."""
    await page.get_by_role("tab", name="Train", exact=True).first.click()
    main = page.locator('[data-testid="stMain"]')
    for name, option in (("Model", "Embeddings + MLP (PyTorch)"), ("Validation", "5-fold CV")):
        box = main.get_by_role("combobox", name=name)
        await box.click()
        await page.get_by_role("option", name=option, exact=True).click()
    clicked = time.perf_counter()
    await page.get_by_role("button", name="Start training").click()
    await page.get_by_role("button", name="Cancel training").wait_for(timeout=60_000)
    queued = page.get_by_text(re.compile(r"Yours is queued"))
    while await queued.count():
        await asyncio.sleep(0.5)
    outcome.queue_wait_s = time.perf_counter() - clicked
    await page.locator('[data-testid="stProgress"]').first.wait_for(timeout=RESULT_TIMEOUT_MS)
    await page.reload()  # halfway through: a new session at the same address
    await page.get_by_role("tab", name="Train", exact=True).first.click()
    await page.get_by_text(re.compile(r"Trained and saved ")).first.wait_for(timeout=RESULT_TIMEOUT_MS)


async def _session(browser: Any, url: str, i: int, domain: str, role: str) -> Outcome:
    outcome = Outcome(i, domain, role)
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(RESULT_TIMEOUT_MS)  # clicks wait for busy pages too, not Playwright's 30 s
    page = await context.new_page()
    started = time.perf_counter()
    try:
        await page.goto(url, wait_until="domcontentloaded")
        await page.get_by_role("link", name=domain).first.click(timeout=120_000)
        await page.get_by_role("tab", name="Explore").first.wait_for(timeout=RESULT_TIMEOUT_MS)
        if role == "train":
            await _train(page, outcome)
        else:
            await _predict(page, domain, i)
            if role == "live":
                await _live(page)
        outcome.seconds = time.perf_counter() - started
        text = await page.locator('[data-testid="stMain"]').inner_text()
        others = {int(n) for n in re.findall(r"session (\d+) ", text)} - {i}
        outcome.crosstalk = [_marker(n).strip() for n in sorted(others)]
        outcome.exceptions = await page.locator('[data-testid="stException"]').count()
        outcome.ok = not outcome.crosstalk and not outcome.exceptions
    except Exception as exc:  # one session's failure is a result, not the end of the test
        outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        shots = os.environ.get("DOMAINLENS_LOAD_SCREENSHOTS")
        if shots:
            await page.screenshot(path=str(Path(shots) / f"session-{i}.png"), full_page=True)
    finally:
        await context.close()
    return outcome


def _wait_for_warm_up(url: str, home: Path, timeout_s: float = 1800) -> None:
    """Measure a warm server, as analysts meet it after its first start: open it once (which
    starts the background fit of the default models) and wait until every default that must
    be fitted is kept under ``_prepared``."""
    import urllib.request

    from domains import registry

    urllib.request.urlopen(url, timeout=30).read()  # the page shell; the app's first run starts the warm-up
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.get_by_role("heading", name="DomainLens").wait_for(timeout=120_000)
        browser.close()
    needed = [k for k in registry.domain_keys() if not registry.get(k).models()[0].ready]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(any((home / "_prepared" / k).rglob("metadata.json")) for k in needed):
            return
        time.sleep(2)
    raise TimeoutError(f"the server did not prepare its default models within {timeout_s:.0f} s")


def _plan(sessions: int) -> list[tuple[str, str]]:
    """Sessions spread round-robin over the domains; two Live streams on credit and
    recommendations, one training on credit."""
    plan = [(DOMAINS[i % len(DOMAINS)], "predict") for i in range(sessions)]
    plan[0] = ("Credit Risk", "train")
    if sessions >= 3:
        plan[5 if sessions > 5 else sessions - 1] = ("Credit Risk", "live")
        plan[2] = ("Recommendations", "live")
    return plan


async def run(url: str, sessions: int) -> list[Outcome]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                           args=["--no-sandbox", "--disable-gpu"])
        outcomes = await asyncio.gather(*[_session(browser, url, i, domain, role)
                                          for i, (domain, role) in enumerate(_plan(sessions))])
        await browser.close()
    return list(outcomes)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (all cores, from /proc/stat)."""
    jiffies = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def summary(outcomes: list[Outcome], memory: dict[str, float], bare: dict[str, float]) -> dict[str, Any]:
    per_domain = {}
    for domain in DOMAINS:
        times = sorted(o.seconds for o in outcomes if o.domain == domain and o.ok and o.role == "predict")
        if times:
            per_domain[domain] = {"sessions": len(times), "p50_s": round(statistics.median(times), 1),
                                  "p95_s": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1)}
    return {
        "sessions": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "failed": [asdict(o) for o in outcomes if not o.ok],
        "exceptions_on_pages": sum(o.exceptions for o in outcomes),
        "crosstalk": sum(len(o.crosstalk) for o in outcomes),
        "per_domain": per_domain,
        "training_queue_wait_s": [round(o.queue_wait_s, 1) for o in outcomes if o.role == "train"],
        "server_peak_mb": round(memory["peak"]),
        "server_peak_vs_bare": round(memory["peak"] / bare["rss"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args()
    env = {**os.environ, "DOMAINLENS_HOME": os.environ.get("DOMAINLENS_HOME") or tempfile.mkdtemp(prefix="dl-load-")}
    proc, url = serve_in_background(env)
    try:
        bare = memory_mb(proc.pid)
        _wait_for_warm_up(url, Path(env["DOMAINLENS_HOME"]))
        started, server_cpu, machine_cpu = time.perf_counter(), cpu_seconds(proc.pid), machine_cpu_seconds()
        outcomes = asyncio.run(run(url, args.sessions))
        result = summary(outcomes, memory_mb(proc.pid), bare)
        result["wall_s"] = round(time.perf_counter() - started, 1)
        # The twenty browsers share this machine's cores with the server (analysts bring their
        # own): the split says how much of the wait is the server's.
        server_s, machine_s = cpu_seconds(proc.pid) - server_cpu, machine_cpu_seconds() - machine_cpu
        result["cpu_s"] = {"server": round(server_s, 1), "browsers_and_rest": round(machine_s - server_s, 1),
                           "available": round(result["wall_s"] * (os.cpu_count() or 1), 1)}
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
