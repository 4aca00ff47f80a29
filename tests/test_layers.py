"""The code's layers (docs/architecture.md): data flows one way, so imports do too.

Every import in runyard's source is read (also those inside functions), resolved to a module
of runyard, and checked: the operation model and its sources sit below ``launch``
(``flags`` < ``opdef`` < ``lang`` < ``guildfile`` < ``launch``), no module imports in a circle
between those layers, and nothing below ``api`` imports ``api`` or ``cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import runyard

SRC = Path(runyard.__file__).parent
LAYERS = ["flags", "opdef", "lang", "guildfile", "launch"]  # lowest first
BELOW_API = ["flags", "opdef", "lang", "guildfile", "launch", "store", "index", "select", "batch", "report"]


def _module(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """runyard module -> the runyard modules it imports (anywhere in its code)."""
    out: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        mod = _module(path)
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("runyard")}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("runyard"):
                    continue
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}  # `from .. import lang`
        out[mod] = found
    return out


def _layer(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_operation_layers_import_one_way():
    imports = _imports()
    wrong = []
    for mod, targets in imports.items():
        lo = _layer(mod)
        if lo not in LAYERS:
            continue
        for t in targets:
            to = _layer(t)
            if to in LAYERS and LAYERS.index(to) > LAYERS.index(lo):
                wrong.append(f"{mod} imports {t}")
    assert not wrong, "\n".join(sorted(wrong))


def test_nothing_below_api_imports_api_or_cli():
    imports = _imports()
    wrong = sorted(f"{mod} imports {t}" for mod, targets in imports.items() if _layer(mod) in BELOW_API
                   for t in targets if t.split(".")[:2] in (["runyard", "api"], ["runyard", "cli"]))
    assert not wrong, "\n".join(wrong)
