"""Which interpreter runs a script: the user's, as they would expect.

Python, first match wins:

1. ``--python PATH`` (``run(..., python=PATH)``), then the script's ``#| python: PATH``
   front matter (relative to the project folder);
2. the active virtualenv (``$VIRTUAL_ENV``), then an active conda environment other than
   ``base`` (``$CONDA_PREFIX``);
3. a ``.venv`` or ``venv`` folder in the project (the folder the script is snapshot from);
4. conda's ``base`` environment when it is the active one;
5. the interpreter runyard itself runs on.

R: ``--rscript PATH`` / ``#| rscript: PATH``, else ``Rscript`` found on ``PATH``.

The run records the interpreter that ran it (its ``interpreter`` attribute). runyard's own
helpers that run inside the script's process (``pyhooks/``) import nothing of runyard, so
they work in an interpreter where runyard is not installed.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError
from . import Script

# Front-matter keys (and run options) that name an interpreter, by language.
OVERRIDE_KEY = {"python": "python", "r": "rscript"}


@dataclass
class Interpreter:
    """The program that runs a script, why it was chosen, and what it adds to the environment."""

    path: str
    why: str
    env: dict[str, str] = field(default_factory=dict)


def override(script: Script, *, python: str | None = None, rscript: str | None = None) -> Script:
    """Record ``--python`` / ``--rscript`` on ``script`` (it wins over the front matter).
    The path is checked now: a missing program is one clear line before anything is made."""
    for key, given in (("python", python), ("rscript", rscript)):
        if given:
            script.options[key] = _checked(str(given), Path.cwd(), "--" + key)
            script.options.setdefault("_interpreter_from", {})[key] = "--" + key
    return script


def overrides(script: Script) -> dict[str, str]:
    """The ``--python`` / ``--rscript`` given for ``script`` (for :func:`override` elsewhere)."""
    given = script.options.get("_interpreter_from") or {}
    return {key: script.options[key] for key in given if script.options.get(key)}


def _checked(given: str, base: Path, where: str) -> str:
    """``given`` as an absolute path of an executable program (a bare name is looked up on PATH)."""
    text = os.path.expanduser(given)
    if os.sep not in text:
        found = shutil.which(text)
        if found:
            return found
    path = Path(text) if os.path.isabs(text) else base / text
    if path.is_dir():  # an environment's folder: its interpreter
        for cand in (path / "bin" / "python", path / "bin" / "Rscript"):
            if cand.is_file():
                path = cand
                break
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(f"{where} {given}: no such program (give the path of an interpreter)")
    return os.path.abspath(path)


def _env_python(prefix: str | os.PathLike) -> Path | None:
    p = Path(prefix) / "bin" / "python"
    return p if p.is_file() and os.access(p, os.X_OK) else None


def _own(path: Path, prefix: Path) -> bool:
    """True when ``path`` in the environment at ``prefix`` is the interpreter running runyard."""
    try:
        return (prefix.resolve() == Path(sys.prefix).resolve()
                and os.path.realpath(path) == os.path.realpath(sys.executable))
    except OSError:
        return False


def _as_chosen(path: Path, prefix: Path, why: str, activate: bool = False) -> Interpreter:
    if _own(path, prefix):
        return Interpreter(sys.executable, why)  # the very same: a run may start as a fork of runyard
    env = {}
    if activate:  # as `source .venv/bin/activate` would: the script's own `python`, `pip` are the venv's
        env = {"VIRTUAL_ENV": str(prefix), "PATH": str(prefix / "bin") + os.pathsep + os.environ.get("PATH", "")}
    return Interpreter(str(path), why, env)


def python(script: Script) -> Interpreter:
    """The Python interpreter that runs ``script`` (see the module's rules)."""
    given = script.options.get("python")
    if given:
        src = (script.options.get("_interpreter_from") or {}).get("python")
        path = given if src else _checked(str(given), script.project_dir, "#| python:")
        return Interpreter(path, src or "#| python:")
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and (p := _env_python(venv)):
        return _as_chosen(p, Path(venv), "the active virtualenv ($VIRTUAL_ENV)")
    conda = os.environ.get("CONDA_PREFIX")
    conda_base = os.environ.get("CONDA_DEFAULT_ENV", "") == "base" or (
        conda and Path(conda, "condabin").is_dir())
    if conda and not conda_base and (p := _env_python(conda)):
        return _as_chosen(p, Path(conda), "the active conda environment ($CONDA_PREFIX)")
    for name in (".venv", "venv"):
        d = script.project_dir / name
        if (d / "pyvenv.cfg").is_file() and (p := _env_python(d)):
            return _as_chosen(p, d, f"the project's {name}", activate=True)
    if conda and (p := _env_python(conda)):
        return _as_chosen(p, Path(conda), "conda's base environment ($CONDA_PREFIX)")
    return Interpreter(sys.executable, "runyard's own")


def rscript(script: Script) -> Interpreter | None:
    """The ``Rscript`` that runs ``script``: the override, else ``Rscript`` on PATH (None: not found)."""
    given = script.options.get("rscript")
    if given:
        src = (script.options.get("_interpreter_from") or {}).get("rscript")
        path = given if src else _checked(str(given), script.project_dir, "#| rscript:")
        return Interpreter(path, src or "#| rscript:")
    found = shutil.which("Rscript")
    return Interpreter(found, "Rscript on PATH") if found else None
