"""Named remotes, kept in the user's config file.

The file is ``$RUNYARD_CONFIG_DIR/remotes.yml`` (default ``$XDG_CONFIG_HOME/runyard`` or
``~/.config/runyard``). It holds each remote's URL and its non-secret backend options
(``endpoint_url``, ``port``, ...). Credentials are never written here: the backends take them
from their usual places (environment, ``~/.aws``, the ssh agent or a key file).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SCHEMES = ("s3", "ssh", "sftp", "file")
# Option names that would hold a credential: refused, so none is ever written to the file.
_SECRET_OPTION = re.compile(r"(secret|password|passwd|token|credential|session|passphrase|^key$|access_key)", re.I)


@dataclass
class Remote:
    """A remote: where runs are pushed to and pulled from."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]


def config_dir() -> Path:
    """Where runyard's user configuration lives."""
    env = os.environ.get("RUNYARD_CONFIG_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".config") / "runyard"


def _path() -> Path:
    return config_dir() / "remotes.yml"


def _load() -> dict[str, dict]:
    import yaml

    p = _path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {p}: {e}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"{p} is not valid YAML: {str(e).splitlines()[0]}") from None
    remotes = data.get("remotes") if isinstance(data, dict) else None
    return remotes if isinstance(remotes, dict) else {}


def _save(remotes: dict[str, dict]) -> None:
    import yaml

    p = _path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump({"remotes": remotes}, sort_keys=True), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)


def parse_option(text: str) -> tuple[str, Any]:
    """``k=v`` -> (k, v), with v read as a YAML scalar (``8022`` is a number, ``null`` is None)."""
    import yaml

    k, eq, v = text.partition("=")
    if not eq or not k:
        raise UsageError(f"--option needs KEY=VALUE, not {text!r}")
    if _SECRET_OPTION.search(k):
        raise UsageError(f"refusing to store option {k!r}: credentials come from the environment, ~/.aws or "
                         "the ssh agent, and runyard never writes them")
    try:
        val = yaml.safe_load(v) if v else ""
    except yaml.YAMLError:
        val = v
    if isinstance(val, (dict, list)) or val is None and v.lower() not in ("null", "none", "~"):
        val = v
    return k, val


def add(name: str, url: str, options: dict[str, Any] | None = None) -> Remote:
    """Add (or replace) a remote."""
    if not _NAME.match(name):
        raise UsageError(f"bad remote name {name!r}: use letters, digits, '.', '_' and '-'")
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _SCHEMES:
        raise UsageError(f"unsupported remote URL {url!r}: use s3://BUCKET/PREFIX, ssh://USER@HOST/PATH "
                         "or file:///PATH")
    if "@" in url.split("://", 1)[1].split("/", 1)[0] and ":" in url.split("://", 1)[1].split("@", 1)[0]:
        raise UsageError("refusing to store a password in a remote URL: use the ssh agent or a key")
    remotes = _load()
    remotes[name] = {"url": url, **({"options": dict(options)} if options else {})}
    _save(remotes)
    return Remote(name, url, dict(options or {}))


def remove(name: str) -> None:
    """Remove a remote from the config file."""
    remotes = _load()
    if name not in remotes:
        raise UsageError(f"no remote named {name!r} (see: runyard remote list)")
    del remotes[name]
    _save(remotes)


def all_remotes() -> list[Remote]:
    """The configured remotes, by name."""
    return [Remote(n, str(v.get("url", "")), dict(v.get("options") or {}))
            for n, v in sorted(_load().items()) if isinstance(v, dict)]


def get(name: str) -> Remote:
    """The remote called ``name``; one clear line if there is none."""
    for r in all_remotes():
        if r.name == name:
            return r
    raise UsageError(f"no remote named {name!r} (add one with: runyard remote add {name} URL)")
