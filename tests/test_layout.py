"""Project conventions that a refactor could silently break."""

import ast
import tomllib
from pathlib import Path

from domains.io import MAX_UPLOAD_MB

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_layers_flow_one_way() -> None:
    for package, banned in (("models", {"streamlit", "domains", "dashboard"}), ("domains", {"streamlit", "dashboard"})):
        for path in (ROOT / package).rglob("*.py"):
            if package == "domains" and path.name == "cli.py":
                continue  # the CLI locates dashboard/app.py to launch it (no streamlit import)
            assert not (_imports(path) & banned), f"{path} imports {_imports(path) & banned}"


def test_upload_cap_matches_streamlit_config() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


def test_no_pickle_loading() -> None:
    for package in ("models", "domains", "dashboard"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "pickle" not in _imports(path), path
            assert "torch.load(" not in text or "weights_only=True" in text, path
