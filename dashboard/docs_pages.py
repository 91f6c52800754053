"""The generated pages of the docs site, so they cannot drift: the CLI reference (docs/cli.md,
from ``build_parser``) and the site's front page (docs/index.md, the README with its links made
relative to docs/). ``python -m dashboard.docs_pages`` rewrites both; a test fails when either
is out of date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard.cli import DOMAIN_COMMANDS, build_parser
from domains import registry

ROOT = Path(__file__).resolve().parents[1]
PAGE, FRONT = ROOT / "docs" / "cli.md", ROOT / "docs" / "index.md"
WIDTH = 100  # help text wrapped as a terminal of this width shows it


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps its subparsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=WIDTH)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    formatter.add_text(parser.description)
    for group in parser._action_groups:
        formatter.start_section(group.title)
        formatter.add_arguments(group._group_actions)
        formatter.end_section()
    return formatter.format_help().strip()


def reference() -> str:
    """The whole page: every command's help, then the flags each domain adds to its commands."""
    parts = ["# CLI reference", "",
             "Generated from the argument parser by `python -m dashboard.docs_pages`; "
             "`domainlens COMMAND --help` prints the same.", ""]
    for name, sub in _subcommands(build_parser()).items():
        parts += [f"## domainlens {name}", "", "```text", _help(sub), "```", ""]
    parts += ["## Options each domain adds", "",
              f"`domainlens {' / '.join(DOMAIN_COMMANDS)} DOMAIN` also take the flags of the domain they name:", ""]
    for domain in registry.all_domains():
        fields = domain.data_options()
        parts += [f"### {domain.title} (`{domain.key}`)", ""]
        if not fields:
            parts += ["No flags of its own.", ""]
            continue
        for field in fields:
            flag = f"--{field.name.replace('_', '-')}"
            default = "" if field.default in (None, "") else f" (default: `{field.default}`)"
            parts.append(f"- `{flag}`{default}: {field.help or field.name}")
        parts.append("")
    return "\n".join(parts)


def option_strings() -> set[str]:
    """Every flag the CLI accepts, domain flags included (what the page must mention)."""
    flags: set[str] = set()
    for domain in [None, *registry.all_domains()]:
        for sub in _subcommands(build_parser(domain)).values():
            flags |= {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
    return flags


def front_page() -> str:
    """The README as the site's home page: links into docs/ made relative to it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text.replace("](docs/index.md)", "](index.md)").replace("](docs/", "](")
    return text.replace("Everything else is in [`docs/`](index.md), grouped by reader",
                        "These pages are grouped by reader")


if __name__ == "__main__":
    for path, text in ((PAGE, reference()), (FRONT, front_page())):
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
