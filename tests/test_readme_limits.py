"""Limits a user meets are stated in the README and docs/ from the code that enforces them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from domains.io import MAX_UPLOAD_MB
from domains.serving import MAX_ROWS

ROOT = Path(__file__).resolve().parents[1]


def test_the_readmes_upload_and_request_limits_are_the_codes() -> None:
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    stated = {int(m) for m in re.findall(r"[Uu]ploads? (?:stay |are )?capped at (\d+) MB", readme)}
    assert stated == {MAX_UPLOAD_MB}, stated
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert f"more than {MAX_ROWS:,} rows" in readme
