"""The public surface stays whole: every function docs/api.md documents is exported, cli.py
calls only public API functions, and every option of the live command tree is in docs/cli.md."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

import runyard

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _documented_functions() -> set[str]:
    text = (DOCS / "api.md").read_text()
    names = set(re.findall(r"`(?:runyard\.)?([a-z_][a-z0-9_]*)\(", text))
    return {n for n in names if not n.startswith("_")}


def test_every_documented_function_is_exported():
    names = _documented_functions()
    assert {"run", "ls_runs", "stop_runs", "ls_records", "view"} <= names  # the parse finds them
    missing = sorted(n for n in names if n not in runyard.__all__)
    assert not missing, f"documented in docs/api.md but not in runyard.__all__: {missing}"
    for n in names:
        assert callable(getattr(runyard, n)), n


def test_every_exported_function_is_documented():
    names = _documented_functions()
    undocumented = [n for n in runyard.__all__ if callable(getattr(runyard, n)) and n not in names
                    and not isinstance(getattr(runyard, n), type)]
    assert not undocumented, f"exported but not in docs/api.md: {undocumented}"


def test_cli_uses_only_public_api_functions():
    tree = ast.Module(body=[n for f in sorted((ROOT / "src" / "runyard" / "cli").glob("*.py"))
                            for n in ast.parse(f.read_text()).body], type_ignores=[])
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "api" and node.level == 2:
            used.update(a.name for a in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "api":
            used.add(node.attr)
    assert "run_ids" in used  # the parse sees cli.py's calls
    private = sorted(n for n in used if n not in runyard.__all__)
    assert not private, f"cli.py uses API names that are not public: {private}"


def _options(cmd: click.Command, path: tuple[str, ...] = ("runyard",)):
    ctx = click.Context(cmd, info_name=path[-1])
    for p in cmd.get_params(ctx):  # built lazily by some commands: read the live tree
        if isinstance(p, click.Option) and not p.hidden:
            yield path, p
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            if not getattr(sub, "hidden", False):
                yield from _options(sub, (*path, name))


def test_every_cli_option_is_in_docs_cli_md():
    from runyard.cli import main

    doc = (DOCS / "cli.md").read_text()
    missing = []
    count = 0
    for path, opt in _options(main):
        names = [o for o in (*opt.opts, *opt.secondary_opts) if o.startswith("--")] or list(opt.opts)
        for o in names:
            count += 1
            if not re.search(re.escape(o) + r"(?![\w-])", doc):
                missing.append(f"{' '.join(path)} {o}")
    assert count > 50
    assert not missing, "options missing from docs/cli.md:\n" + "\n".join(missing)


def test_every_cli_command_is_in_docs_cli_md():
    from runyard.cli import main

    doc = (DOCS / "cli.md").read_text()
    missing = []

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            if getattr(sub, "hidden", False):
                continue
            full = f"{path} {name}"
            if not any(f in doc for f in (f"`{full}", f"{full} ", f"{path} [{name}]")):
                missing.append(full)
            walk(sub, full)

    walk(main, "runyard")
    assert not missing, f"commands missing from docs/cli.md: {missing}"
