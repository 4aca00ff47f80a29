"""Flags: a script's settings, their definitions, values and validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FLAG_TYPES = ("number", "int", "float", "string", "boolean")


@dataclass
class FlagDef:
    """What a script says about one flag."""

    name: str
    default: Any = None
    type: str | None = None  # one of FLAG_TYPES, or None when unknown
    description: str = ""
    min: Any = None
    max: Any = None
    choices: list | None = None
    required: bool = False
    extra: dict = field(default_factory=dict)  # other annotation keys, kept as given

    @classmethod
    def from_value(cls, name: str, value: Any, annotation: dict | None = None) -> "FlagDef":
        """A flag found as ``name = value`` in a script, plus its ``#|`` annotation."""
        fd = cls(name=name, default=value, type=type_of(value))
        if annotation:
            fd.annotate(annotation)
        return fd

    def annotate(self, ann: dict) -> None:
        """Apply a ``#|`` annotation (description, min, max, choices, type, required...)."""
        for key, val in ann.items():
            k = key.replace("-", "_")
            if k in ("description", "min", "max", "choices", "type", "required", "default"):
                if k == "description" and val is not None:
                    val = str(val).strip()
                if k == "type" and val is not None:
                    val = {"float": "float", "str": "string", "bool": "boolean",
                           "integer": "int", "numeric": "number"}.get(val, val)
                if k == "choices" and val is not None and not isinstance(val, list):
                    val = [val]
                setattr(self, k, val)
            else:
                self.extra[key] = val

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"default": self.default}
        for k in ("type", "description", "min", "max", "choices"):
            v = getattr(self, k)
            if v not in (None, ""):
                d[k] = v
        if self.required:
            d["required"] = True
        d.update(self.extra)
        return d


def other_spelling(name: str) -> str:
    """The other way people write a flag's name: ``learning-rate`` for ``learning_rate`` and back.
    The one name rule: ``run`` (NAME=VALUE), filters (``flag:learning-rate``), ``compare``'s
    columns and ``ls_runs`` find a flag by either spelling."""
    return name.replace("-", "_") if "-" in name else name.replace("_", "-")


def lookup_flag(flags: dict[str, Any], name: str, default: Any = None) -> Any:
    """``flags[name]``, else the value under its :func:`other_spelling`, else ``default``."""
    if name in flags:
        return flags[name]
    return flags.get(other_spelling(name), default)


def typed_name(fd: FlagDef) -> str:
    """The flag's name as the user types it: an argparse option's (``learning-rate`` for the
    dest ``learning_rate``), else the flag's own. (A ``--no-x`` switch storing False is ``x``.)"""
    option = str(fd.extra.get("arg-name") or "").lstrip("-")
    if option and fd.extra.get("arg-switch") is not False:
        return option
    return fd.name


def is_list_flag(fd: FlagDef | None) -> bool:
    """True for a flag that takes several values (argparse ``nargs="+"``, ``"*"`` or N > 1)."""
    return fd is not None and bool(fd.extra.get("arg-split"))


def list_values(defs: dict[str, FlagDef], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with a list flag's list taken as one value, not a grid: ``layers=[128,64]`` is
    one run with ``--layers 128 64`` (the value ``"128 64"``); ``layers=[[128,64],[256]]`` is a
    grid of two such runs."""
    import shlex

    def joined(items: Any) -> str:
        return " ".join(shlex.quote(format_value(v)) if isinstance(v, str) else format_value(v) for v in items)

    def inner(v: Any) -> Any:  # "[1,2]" inside [[1,2],[3]] as the command line decodes it
        if isinstance(v, str) and v.startswith("[") and v.endswith("]"):
            from .values import decode

            return decode(v)
        return v

    out = dict(given)
    for name, value in given.items():
        fd = defs.get(name) or defs.get(other_spelling(name))
        if not is_list_flag(fd) or not isinstance(value, (list, tuple)):
            continue
        value = [inner(v) for v in value]
        if value and all(isinstance(v, (list, tuple)) for v in value):
            out[name] = [joined(v) for v in value]
        else:
            out[name] = joined(value)
    return out


def canonical_names(defs: dict[str, FlagDef], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with every other spelling of a flag's name renamed to the flag's name: the
    argparse option (``batch-size`` for the dest ``batch_size``), or ``-`` for ``_``."""
    if all(name in defs for name in given):
        return given
    from ..errors import FlagError

    spelled: dict[str, str] = {}
    for fd in defs.values():
        # ``--no-cuda`` (store_false, dest ``cuda``): ``no-cuda=yes`` would mean cuda=no, so that
        # option's name is no other spelling of the flag.
        option = "" if fd.extra.get("arg-switch") is False else str(fd.extra.get("arg-name") or "").lstrip("-")
        for alt in (option, other_spelling(fd.name)):
            if alt and alt not in defs:
                spelled.setdefault(alt, fd.name)
    out: dict[str, Any] = {}
    for name, value in given.items():
        real = name if name in defs else spelled.get(name, name)
        if real in out:
            raise FlagError(f"flag '{real}' is given twice (as '{real}' and as '{name}')")
        out[real] = value
    return out


def type_of(value: Any) -> str | None:
    """The flag type of a Python value: boolean, int, number (float) or string."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def format_value(value: Any) -> str:
    """How a flag value reads in labels and tables (Guild's form: yes/no booleans)."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return "null"
    if isinstance(value, float):
        r = repr(value)
        if "e" not in r and "." in r and len(r.split(".")[1]) > 5:
            r = f"{value:.5f}".rstrip("0")
        return r
    return str(value)


def default_label(values: dict) -> str:
    """``name=value`` for every non-null flag, sorted by name (Guild's default label)."""
    return " ".join(f"{k}={format_value(v)}" for k, v in sorted(values.items()) if v is not None)
