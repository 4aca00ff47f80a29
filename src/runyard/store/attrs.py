"""Run attributes: one YAML file per attribute in ``<run>/.guild/attrs/``, written atomically.

Writing avoids importing PyYAML for the common shapes (scalars, flat mappings and
lists); every file is plain YAML that Guild AI 0.9 reads with ``yaml.safe_load``.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*( [A-Za-z0-9_./@+=-]+)*$")
_YAML_WORDS = {
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~",
}
_NUMBERISH = re.compile(r"^[-+]?[0-9._]|^\.(inf|nan)", re.I)
# Characters PyYAML accepts in a stream (everything else must be escaped).
_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Fallback(Exception):
    pass


def _str(s: str) -> str:
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS and not _NUMBERISH.match(s):
        return s
    out = json.dumps(s, ensure_ascii=False)
    if _UNPRINTABLE.search(out):
        raise _Fallback()
    return out


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ".nan"
        if math.isinf(v):
            return ".inf" if v > 0 else "-.inf"
        r = repr(v)
        if "e" in r:
            mant, _, exp = r.partition("e")
            if "." not in mant:
                mant += ".0"
            if exp[0] not in "+-":
                exp = "+" + exp
            r = f"{mant}e{exp}"
        return r
    if isinstance(v, str):
        return _str(v)
    raise _Fallback()


def _flow(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_str(str(k))}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    return _scalar(v)


def dumps(value: Any) -> str:
    """Encode ``value`` as YAML text (block style at the top level)."""
    try:
        if isinstance(value, dict):
            if not value:
                return "{}\n"
            return "".join(f"{_str(str(k))}: {_flow(v)}\n" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            if not value:
                return "[]\n"
            return "".join(f"- {_flow(v)}\n" for v in value)
        return _scalar(value) + "\n"
    except _Fallback:
        import yaml

        return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False)


_INT = re.compile(r"^-?\d+\n?$")


def loads(text: str) -> Any:
    """Decode an attribute file's text (any YAML Guild AI writes)."""
    if _INT.match(text):
        return int(text)
    if text[:1] in '"[{':
        try:
            return json.loads(text)
        except ValueError:
            pass
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class AttrError(Exception):
    """An attribute file that cannot be read or parsed."""


def read(path: Path) -> Any:
    """Read one attribute file; raises FileNotFoundError or AttrError."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return loads(text)
    except Exception as e:  # noqa: BLE001 - any YAML error means a corrupt file
        raise AttrError(f"corrupt attribute file {path}: {str(e).splitlines()[0]}") from None


def write(attrs_dir: Path, name: str, value: Any) -> None:
    """Write one attribute atomically: a temp file beside ``attrs/``, then rename."""
    data = dumps(value).encode("utf-8")
    tmp = attrs_dir.parent / f".attr-{name}-{os.getpid()}-{id(data):x}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, attrs_dir / name)


def delete(attrs_dir: Path, name: str) -> None:
    try:
        os.unlink(attrs_dir / name)
    except FileNotFoundError:
        pass
