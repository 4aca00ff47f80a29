"""Run attributes: one YAML file per attribute in ``<run>/.guild/attrs/``, written atomically.

Writing avoids importing PyYAML for the common shapes (scalars, flat mappings and
lists); every file is plain YAML that Guild AI 0.9 reads with ``yaml.safe_load``.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat as _stat
from pathlib import Path
from typing import Any

from ..errors import RunyardError, check_text

MAX_BYTES = 4 * 1024 * 1024  # an attribute file larger than this is not read (listed with `error`)
MAX_DEPTH = 100  # nor one nested deeper than this
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+-]*( [A-Za-z0-9_./@+=-]+)*$")
_YAML_WORDS = {
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "none", "~",
}
_NUMBERISH = re.compile(r"^[-+]?[0-9._]|^\.(inf|nan)", re.I)
# Characters PyYAML accepts in a stream (everything else must be escaped); compiled on first use.
_UNPRINTABLE_CLASS = "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_unprintable = None


class _Fallback(Exception):
    pass


def _str(s: str) -> str:
    if _PLAIN.match(s) and s.lower() not in _YAML_WORDS and not _NUMBERISH.match(s):
        return s
    out = json.dumps(s, ensure_ascii=False)
    if not out.isascii() or "\x7f" in out:
        global _unprintable
        if _unprintable is None:
            _unprintable = re.compile(_UNPRINTABLE_CLASS)
        if _unprintable.search(out):
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


def _quoted(s: str) -> str:
    out = json.dumps(s, ensure_ascii=True)
    if "\x7f" in out:
        raise _Fallback()
    return out


def _flow(v: Any) -> str:
    """Flow style that is also JSON (strings always quoted), so reading needs no YAML parser."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_quoted(str(k))}: {_flow(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_flow(x) for x in v) + "]"
    if isinstance(v, str):
        return _quoted(v)
    return _scalar(v)


def dumps(value: Any) -> str:
    """Encode ``value`` as YAML text (block style at the top level)."""
    try:
        if isinstance(value, dict):
            if not value:
                return "{}\n"
            return "".join(f"{_str(str(k))}: {_str(v) if isinstance(v, str) else _flow(v)}\n"
                           for k, v in value.items())
        if isinstance(value, (list, tuple)):
            if not value:
                return "[]\n"
            return "".join(f"- {_flow(v)}\n" for v in value)
        if isinstance(value, str):
            return _str(value) + "\n"
        return _scalar(value) + "\n"
    except _Fallback:
        import yaml

        return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False)


_INT = re.compile(r"^-?(0|[1-9]\d*)\n?$")  # (``0757`` is YAML 1.1 octal: PyYAML reads it)


_BLOCK_KEY = re.compile(r'^([A-Za-z_][A-Za-z0-9_.-]*|"(?:[^"\\]|\\.)*"): (.*)$')
_FLOAT_PLAIN = re.compile(r"^([-+]?\d[\d_]*\.\d*|\.\d+)([eE][-+]\d+)?$")  # as PyYAML's
# Read side only, also plain strings to YAML: words joined by ``=`` (Guild's default label
# ``epochs=22 lr=0.1``) and hex digests (``sourcecode_digest``; with a letter, no ``0b``).
_PLAIN_READ = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./@+=-]*( [A-Za-z0-9_./@+=-]+)*$")
_DIGEST = re.compile(r"^(?=[0-9]*[a-f])(?!0b[01]+$)[0-9a-f]{32,128}$")


def _plain_scalar(v: str) -> Any:
    """A value as written by :func:`dumps` (JSON, or a plain string it chose): raises _Fallback otherwise."""
    c = v[:1]
    if c in '"[{' or v in ("true", "false", "null"):
        try:
            return json.loads(v)
        except ValueError:
            raise _Fallback() from None
    if _INT.match(v):
        return int(v)
    if _FLOAT_PLAIN.match(v) and v not in (".", "-.", "+."):
        return float(v.replace("_", ""))
    if _PLAIN_READ.match(v) and v.lower() not in _YAML_WORDS and not _NUMBERISH.match(v):
        return v
    if _DIGEST.match(v):
        return v
    raise _Fallback()


def _fast_loads(text: str) -> Any:
    """Read the shapes :func:`dumps` writes without PyYAML; _Fallback for anything else."""
    lines = text.splitlines()
    if not lines:
        raise _Fallback()
    if len(lines) == 1 and not lines[0].startswith("- ") and ": " not in lines[0]:
        return _plain_scalar(lines[0])
    if all(l.startswith("- ") for l in lines):
        return [_plain_scalar(l[2:]) for l in lines]
    out = {}
    for line in lines:
        m = _BLOCK_KEY.match(line)
        if not m:
            raise _Fallback()
        k = m.group(1)
        out[json.loads(k) if k[0] == '"' else k] = _plain_scalar(m.group(2))
    return out


def loads(text: str) -> Any:
    """Decode an attribute file's text (any YAML Guild AI writes)."""
    if _INT.match(text):
        return int(text)
    if text[:1] in '"[{':
        try:
            return json.loads(text)
        except ValueError:
            pass
    try:
        return _fast_loads(text)
    except (_Fallback, ValueError):
        pass
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # First a look at the events (an iterative parser): aliases would make a few KB expand to
    # gigabytes, deep nesting would overflow the loader's stack. Most files can hold neither.
    nesting_bound = sum(text.count(c) for c in "[{-:\n")
    if nesting_bound < MAX_DEPTH and "&" not in text and "*" not in text:
        return yaml.load(text, Loader=loader)
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ValueError("YAML anchors and aliases are not allowed in attribute files")
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return yaml.load(text, Loader=loader)


class AttrError(RunyardError):
    """An attribute file that cannot be read or parsed."""


_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
_FIRST_READ = 64 * 1024


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The bytes of a run's small file (an attribute, ``opref``, an event file) in few syscalls:
    at most ``limit + 1`` of them when ``limit`` is given (so a caller can tell it is too big).

    Raises OSError: IsADirectoryError for a directory, and for a socket, or a FIFO or device
    that is empty or gives more than a first read (opened non-blocking: nothing blocks; a FIFO
    whose writer has left a few bytes in it reads as a file would)."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        head = b""
        if limit is None or limit >= _FIRST_READ:  # most files are small: one read, no fstat
            head = os.read(fd, _FIRST_READ)  # (IsADirectoryError for a directory)
            if 0 < len(head) < _FIRST_READ:
                return head
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode):
            if _stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        if not head and st.st_size == 0:
            return head
        want = (st.st_size if limit is None else min(st.st_size, limit)) + 1
        # all of it again from the start, into one buffer (joining the first read to the rest
        # would copy it all once more: 45 ms for a 40 MB event file)
        data = os.pread(fd, want, 0)
        if len(data) < want:  # all of it, and its end
            return data
        os.lseek(fd, len(data), os.SEEK_SET)
        parts, n = [data], len(data)
        while limit is None or n <= limit:  # it grew since the fstat
            b = os.read(fd, 1 << 20 if limit is None else limit + 1 - n)
            if not b:
                break
            parts.append(b)
            n += len(b)
        return b"".join(parts)
    finally:
        os.close(fd)


def read(path: str | os.PathLike) -> Any:
    """Read one attribute file; raises FileNotFoundError (OSError) or AttrError.

    Refused (AttrError): files over :data:`MAX_BYTES`, bytes that are not UTF-8, YAML
    anchors and aliases (an alias bomb would take gigabytes), and anything but a regular file
    (a FIFO is never opened for reading). A lone surrogate written as a YAML or JSON escape
    (``"\\udcff"``) is read as the escape's text, so the value stays valid UTF-8.
    """
    try:
        data = read_bytes(path, MAX_BYTES)
    except OSError as e:
        if e.errno == errno.EINVAL and e.strerror == "not a regular file":
            raise AttrError(f"attribute file {path} is not a regular file") from None
        raise
    if len(data) > MAX_BYTES:
        raise AttrError(f"attribute file {path} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AttrError(f"attribute file {path} is not valid UTF-8 (byte {e.start})") from None
    try:
        value = loads(text)
    except Exception as e:  # noqa: BLE001 - any YAML error means a corrupt file
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise AttrError(f"corrupt attribute file {path}: {msg}") from None
    if (text.count("[") + text.count("{") > MAX_DEPTH) and _depth(value) > MAX_DEPTH:  # (JSON paths)
        raise AttrError(f"corrupt attribute file {path}: nested more than {MAX_DEPTH} levels deep")
    if "\\u" in text or "\\U" in text:
        value = _escape_surrogates(value)
    return value


def _depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (iteratively: the value may be very deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                break
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def _escape_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its text written as ``\\udcff`` (valid UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_escape_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_escape_surrogates(k): _escape_surrogates(v) for k, v in value.items()}
    return value


def write(attrs_dir: Path, name: str, value: Any) -> None:
    """Write one attribute atomically: a temp file beside ``attrs/``, then rename.

    Raises :class:`~runyard.errors.TextError` (and writes nothing) for text that is not UTF-8."""
    check_text(value, {"label": "the label", "tags": "a tag", "comments": "a comment"}.get(name, f"attribute '{name}'"))
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
