"""``runyard check``: versions, the runs home, and which optional parts are usable here."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
import sys
from pathlib import Path

# (part, modules it needs, extra to install, what it gives)
OPTIONAL = [
    ("view", ("starlette", "uvicorn", "jinja2", "pygments"), "runyard[view]", "runyard view"),
    ("dask", ("dask", "distributed"), "runyard[dask]", "runyard run --dask"),
    ("search", ("optuna",), "runyard[search]", "runyard run --optimizer tpe"),
    ("stats", ("scipy",), "runyard[stats]", "runyard summary, runs_summary, runs_versus"),
    ("tensorboard", ("tensorboard",), "runyard[tensorboard]", "TensorBoard on runs"),
]


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _r_version() -> tuple[str | None, str]:
    rscript = shutil.which("Rscript")
    if not rscript:
        return None, "Rscript not found on PATH (install R to run .R scripts)"
    try:
        r = subprocess.run([rscript, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{rscript} does not start: {e}"
    text = (r.stdout + r.stderr).strip().splitlines()
    return (text[0] if text else "R"), rscript


def _run_python() -> str:
    """The interpreter a Python script here would run with, and why (lang/runtime.py)."""
    from .lang import Script
    from .lang.runtime import python

    try:
        chosen = python(Script(path=Path.cwd() / "script.py", language="python"))
    except Exception as e:  # noqa: BLE001 - check reports what it finds
        return f"error: {e}"
    return f"{chosen.path} ({chosen.why})"


def report() -> tuple[list[tuple[str, str]], bool]:
    """(name, value) lines of the check, and whether every required part is fine."""
    from . import home as _home
    from .lang import suffixes

    lines = [
        ("runyard_version", _version("runyard") or "unknown"),
        ("runyard_install", str(Path(__file__).parent)),
        ("python_version", sys.version.split()[0]),
        ("python_exe", sys.executable),
        ("run_python", _run_python()),
        ("platform", f"{platform.system()} {platform.release()} {platform.machine()}"),
    ]
    ok = True
    try:
        home = _home.find_home()
        lines.append(("guild_home", str(home)))
        lines.append(("guild_home_exists", "yes" if home.exists() else "no (made by the first run)"))
    except Exception as e:  # noqa: BLE001 - any problem finding the home is what check reports
        lines.append(("guild_home", f"error: {e}"))
        ok = False
    for dist in ("click", "PyYAML", "pandas", "psutil", "lark"):
        lines.append((f"{dist.lower()}_version", _version(dist) or "MISSING"))
        ok = ok and _version(dist) is not None
    lines.append(("script_languages", " ".join(suffixes())))
    rv, where = _r_version()
    lines.append(("r", f"{rv} ({where})" if rv else f"not usable: {where}"))
    for part, mods, extra, gives in OPTIONAL:
        missing = [m for m in mods if importlib.util.find_spec(m) is None]
        lines.append((part, f"usable ({gives})" if not missing else
                      f"not usable: {', '.join(missing)} missing (pip install '{extra}')"))
    return lines, ok
