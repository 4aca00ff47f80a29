"""The environment of a run: what is stored of it (never a secret) and what its process gets.

One place for the secret rules. A variable is a secret when its *name* holds (any case)
one of :data:`SECRET_WORDS` or a user pattern, or its *value* holds a URL with a password
(``scheme://user:pw@host``). User patterns come from ``RUNYARD_SECRET_PATTERNS``
(comma-separated) and from the file ``RUNYARD_SECRET_PATTERNS_FILE`` (default
``~/.config/runyard/secret-patterns``, one pattern a line, ``#`` comments); a pattern is a
case-insensitive part of a name, or a glob (``*``, ``?``, ``[...]``) matched against the
whole name.

Only :func:`storable` environments are written (the ``env`` attribute, which is also what
a staged run keeps). A staged run gets its secrets when it starts, from the environment
of the process that starts it (a queue, a batch worker, a Dask worker): :func:`for_staged`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path

SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "CREDENTIAL", "AUTH",
                "PRIVATE", "SESSION", "COOKIE", "CONNECTION_STRING")
PATTERNS_VAR = "RUNYARD_SECRET_PATTERNS"
PATTERNS_FILE_VAR = "RUNYARD_SECRET_PATTERNS_FILE"

# scheme://user:password@ (the user may be empty: redis://:pw@host)
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:[^\s/?#@]*@")


def patterns_file() -> Path:
    """Where user secret patterns are read from (``RUNYARD_SECRET_PATTERNS_FILE``)."""
    p = os.environ.get(PATTERNS_FILE_VAR)
    if p:
        return Path(p).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base, "runyard", "secret-patterns")


def user_patterns() -> list[str]:
    """Secret name patterns added by the user (environment variable and config file)."""
    out = [p.strip() for p in os.environ.get(PATTERNS_VAR, "").split(",") if p.strip()]
    try:
        text = patterns_file().read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _matcher():
    """``is_secret(name, value)`` for the built-in and the user's patterns (read once)."""
    words = [w.upper() for w in SECRET_WORDS]
    globs = []
    for p in user_patterns():
        (globs if any(c in p for c in "*?[") else words).append(p.upper())

    def is_secret(name: str, value: str) -> bool:
        up = name.upper()
        if any(w in up for w in words) or any(fnmatch.fnmatchcase(up, g) for g in globs):
            return True
        return "://" in value and _URL_PASSWORD.search(value) is not None

    return is_secret


def is_secret(name: str, value: str = "") -> bool:
    """True if the variable ``name=value`` looks like a credential (see the module doc)."""
    return _matcher()(name, value)


def usable_name(name: str) -> bool:
    """A name a process environment can hold (not empty, no ``=``, no NUL)."""
    return bool(name) and "=" not in name and "\x00" not in name


def _text(s: str) -> str:
    """Text safe to store: bytes that were not UTF-8 (surrogate escapes) shown as ``\\xNN``."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        pass
    try:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates: \udXXX
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def storable(env: Mapping[str, str], keep: Collection[str] = ()) -> dict[str, str]:
    """``env`` as it may be written: no secrets, no unusable names, text that is valid UTF-8.

    Names in ``keep`` (runyard's own ``FLAG_*`` and ``RUN_*`` variables, whose values are
    stored anyway) are kept whatever they look like: a flag named ``passes`` is no secret."""
    secret = _matcher()
    return {_text(k): _text(v) for k, v in env.items()
            if usable_name(k) and (k in keep or not secret(k, v))}


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without names no process environment can hold (e.g. an empty name)."""
    return {k: v for k, v in env.items() if usable_name(k)}


def for_staged(stored: Mapping[str, str], own: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a staged run starts with: what was stored when it was staged, plus
    the secrets (which were never stored) from ``own``, the starting process's environment."""
    own = os.environ if own is None else own
    secret = _matcher()
    env = process_env(stored)
    for k, v in own.items():
        if k not in env and usable_name(k) and secret(k, v):
            env[k] = v
    return env


def install(env: Mapping[str, str]) -> None:
    """Make this process's ``os.environ`` hold exactly ``env`` (in a forked run).

    A variable whose name the C library refuses to unset (an empty name, which some
    launchers pass) is left as ``python script.py`` would have it.
    """
    for k in [k for k in os.environ if k not in env]:
        try:
            del os.environ[k]
        except (OSError, ValueError):
            pass
    os.environ.update(process_env(env))
