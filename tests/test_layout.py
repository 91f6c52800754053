"""Project conventions that a refactor could silently break."""

import ast
import tomllib
from pathlib import Path

from domains.io import MAX_UPLOAD_MB

ROOT = Path(__file__).resolve().parent.parent


def _modules(path: Path) -> set[str]:
    """Every module ``path`` imports, in full (``from a.b import c`` gives ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


def test_layers_flow_one_way() -> None:
    for package, banned in (("models", {"streamlit", "domains", "dashboard"}), ("domains", {"streamlit", "dashboard"})):
        for path in (ROOT / package).rglob("*.py"):
            assert not (_imports(path) & banned), f"{path} imports {_imports(path) & banned}"


DOMAIN_PACKAGES = sorted(p.name for p in (ROOT / "domains").iterdir() if (p / "domain.py").is_file())  # not server/


def test_faces_use_only_the_domain_contract() -> None:
    """The dashboard and the CLI reach domains through ``domains.base``, ``domains.capabilities``,
    ``domains.registry`` and the shared helpers beside them, never a domain's own package: a
    new domain needs no edit there."""
    assert len(DOMAIN_PACKAGES) >= 5, DOMAIN_PACKAGES  # the rule below must have something to forbid
    for path in (ROOT / "dashboard").rglob("*.py"):
        reached = {m for m in _modules(path) for key in DOMAIN_PACKAGES
                   if m == f"domains.{key}" or m.startswith(f"domains.{key}.")}
        assert not reached, f"{path.relative_to(ROOT)} imports domain internals: {sorted(reached)}"


def test_upload_cap_matches_streamlit_config() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB


def test_no_pickle_loading() -> None:
    for package in ("models", "domains", "dashboard"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "pickle" not in _imports(path), path
            assert "torch.load(" not in text or "weights_only=True" in text, path
