"""Flag destinations that are data files: ``flags-dest: ./flags.yml`` or ``./flags.json``.

The flags are the file's top-level keys (nested mappings flattened with ``.``);
the run directory's copy of the file is rewritten to hold the run's values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

CONFIG_SUFFIXES = (".yml", ".yaml", ".json")


def clean(dest: str) -> str:
    """``config:./flags.yml`` / ``./flags.yml`` -> ``flags.yml``."""
    if dest.startswith("config:"):
        dest = dest[len("config:") :]
    while dest.startswith("./"):
        dest = dest[2:]
    return dest


def is_config(dest: str) -> bool:
    return Path(clean(dest)).suffix.lower() in CONFIG_SUFFIXES


def _load(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise UsageError(f"cannot read flags-dest file {path}: {e.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text or "{}")
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise UsageError(f"cannot parse flags-dest file {path}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"flags-dest file {path} must hold a mapping of flag names to values")
    return data


def _flatten(d: dict, prefix: str = "") -> dict:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_flags(path: Path) -> dict[str, Any]:
    """Flag defaults held by a config file (flattened names; a list is one flag whose value is
    its items joined by spaces, as in Guild)."""
    from . import list_text

    return {k: list_text(v) if isinstance(v, list) else v for k, v in _flatten(_load(path)).items()}


def _with_values(path: Path, values: dict[str, Any]) -> dict:
    data = _load(path) if path.exists() else {}
    for name, val in values.items():
        parts = name.split(".")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        if isinstance(node.get(parts[-1]), list) and not isinstance(val, list):
            from . import split_list

            val = split_list(val)  # a list stays a list: `l=3 4` -> [3, 4]
        node[parts[-1]] = val
    return data


def generated(path: Path, values: dict[str, Any]) -> str:
    """The config file at ``path`` with ``values``, written as Guild 0.9 generates a flags-dest
    config for a guild.yml operation (keys sorted, no newline at the end)."""
    data = _with_values(path, values)
    if path.suffix.lower() == ".json":
        return json.dumps(data, sort_keys=True)
    import yaml

    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True).rstrip("\n")


def write_flags(path: Path, values: dict[str, Any]) -> None:
    """Rewrite the config file at ``path`` so it holds ``values`` (nesting kept)."""
    data = _with_values(path, values)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        import yaml

        text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    path.write_text(text)
