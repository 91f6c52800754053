"""The docs site: the README stays a front page, the generated pages are current, every CLI flag
is in the reference, and the site builds with no broken internal link (a broken one fails)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from dashboard.docs_pages import FRONT, PAGE, front_page, option_strings, reference

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_is_a_front_page() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 150, f"README.md has {len(lines)} lines: move detail to docs/"
    assert "make run" in "\n".join(lines[:20]) and "make test" in "\n".join(lines[:20])


def test_generated_pages_are_current_and_name_every_flag() -> None:
    assert PAGE.read_text() == reference(), "docs/cli.md is out of date: run python -m dashboard.docs_pages"
    assert FRONT.read_text() == front_page(), "docs/index.md is out of date: run python -m dashboard.docs_pages"
    page = PAGE.read_text()
    missing = sorted(flag for flag in option_strings() if flag not in page)
    assert not missing, f"flags missing from docs/cli.md: {missing}"
    assert {"--checkpoint", "--output", "--split", "--text-col", "--src"} <= option_strings()


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site)], capture_output=True, text=True, timeout=300)


def test_the_site_builds_and_a_broken_link_fails_it(tmp_path: Path) -> None:
    built = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "cli" / "index.html").is_file()
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    with (copy / "docs" / "reports.md").open("a") as page:
        page.write("\nSee [the missing page](no-such-page.md).\n")
    broken = _build(copy / "mkdocs.yml", tmp_path / "broken-site")
    assert broken.returncode != 0 and "no-such-page.md" in broken.stderr
