"""Operation sources: script languages (by suffix) and guild.yml operations.

Every kind of operation answers the same questions, through :class:`Language`:

1. ``inspect(path) -> Script``: which flags and options does it declare?
2. ``check_values(script, values)``: language-specific limits on the values (optional).
3. ``apply_flags(script, run_dir, values)``: write the run's flag values into the
   run directory's copy (literal tokens only, line count unchanged) or its
   flags-dest file.
4. ``command(script, run_dir, values) -> (argv, env)``: what command runs it.

**Adding a language is one file**: a module in this package that sets
``SUFFIXES = (".ext", ...)`` (in its first 8 KiB) and defines the functions of :class:`Language`. The
registry finds it by its ``SUFFIXES`` line (without importing every language:
R's module costs ~50 ms to import) and imports it only when a script has that suffix.

guild.yml operations (``runyard run train``, ``runyard run model:train``) come from
:mod:`runyard.guildfile`; :func:`resolve` tries a script path first, then the
project's guild.yml. Both go through the same prepare/supervise path in
:mod:`runyard.launch.runner`.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from ..errors import UsageError
from ..flags import FlagDef


@dataclass
class Script:
    """What runyard knows about an operation before running it."""

    path: Path  # absolute path of the script in the project (a guild.yml op: its main module's file)
    language: str  # the Language's name: "python", "r", "exec", "steps"
    flags: dict[str, FlagDef] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # front matter (or the guild.yml op's settings)
    flags_dest: str = "globals"  # "globals", "args", or a project-relative file ("flags.yml")
    hint: str = ""  # what to add when a flag is unknown and the script has none (a flags-dest)
    op: Any = None  # the guild.yml operation (runyard.guildfile.OpDef) this script runs, if any
    not_flags: dict[str, str] = field(default_factory=dict)  # names in the script that are no flag, and why

    @property
    def project_dir(self) -> Path:
        """The directory whose files are snapshot: the cwd if it holds the script, else the script's dir.
        A guild.yml operation: its ``sourcecode: root`` or the guild.yml's directory."""
        if self.op is not None:
            return self.op.source_root
        cwd = Path.cwd()
        return cwd if self.path.is_relative_to(cwd) else self.path.parent

    @property
    def relpath(self) -> str:
        """The script's path inside the project (and so inside the run directory), POSIX."""
        try:
            return self.path.relative_to(self.project_dir).as_posix()
        except ValueError:
            return self.path.name

    @property
    def name(self) -> str:
        """The operation name as Guild shows it: a script's relative path, or ``[model:]op``."""
        return self.op.display_name if self.op is not None else self.relpath


class Language(Protocol):
    """The typed contract of a language module (``python.py``, ``r.py``...)."""

    SUFFIXES: tuple[str, ...]

    def inspect(self, path: Path) -> Script:
        """Flags (declaration order) and front matter of the script at absolute ``path``.
        One-line UsageError for a script it cannot parse."""

    def apply_flags(self, script: Script, run_dir: Path, values: dict) -> None:
        """Write ``values`` into the run directory's copy (it already holds the snapshot).
        Literal tokens only, line count unchanged; never touches the project's files."""

    def command(self, script: Script, run_dir: Path, values: dict) -> tuple[list[str], dict[str, str]]:
        """argv to execute with cwd=run_dir, and environment variables to add."""

    # Optional: check_values(script, values) -> None (limits of the language's literals),
    # ready() -> Any (raises UsageError when the runtime, e.g. Rscript, is missing),
    # random_seed() -> int (a run's seed; R keeps it in its integer range).


@dataclass(frozen=True)
class Entry:
    """A registered language: its functions, with the optional ones filled in."""

    name: str
    suffixes: tuple[str, ...]
    inspect: Callable[[Path], Script]
    apply_flags: Callable[[Script, Path, dict], None]
    command: Callable[[Script, Path, dict], tuple[list[str], dict[str, str]]]
    check_values: Callable[[Script, dict], None] = lambda script, values: None
    ready: Callable[[], Any] = lambda: None  # raises UsageError when the language's runtime is missing
    random_seed: Callable[[], int] = lambda: int.from_bytes(os.urandom(4), "big")  # a run's seed, [0, 2**32)


_REQUIRED = ("inspect", "apply_flags", "command")
_OPTIONAL = ("check_values", "ready", "random_seed")
_ELSEWHERE = {"guildfile": "runyard.guildfile.op"}  # operation sources that are not script languages
_SUFFIXES_LINE = re.compile(r"^SUFFIXES\s*(?::[^=]*)?=\s*\(([^)]*)\)", re.M)
_by_suffix: dict[str, str] | None = None
_entries: dict[str, Entry] = {}


def _scan() -> dict[str, str]:
    """suffix -> module name, from each module's ``SUFFIXES = (...)`` line (no imports)."""
    global _by_suffix
    if _by_suffix is None:
        found: dict[str, str] = {}
        for f in sorted(Path(__file__).parent.glob("*.py")):
            if f.name.startswith("_"):
                continue
            with open(f, encoding="utf-8", errors="replace") as fh:
                head = fh.read(8192)  # the SUFFIXES line sits near the top of a language module
            m = _SUFFIXES_LINE.search(head)
            if m:
                for s in re.findall(r"""["']([^"']+)["']""", m.group(1)):
                    found.setdefault(s.lower(), f.stem)
        _by_suffix = found
    return _by_suffix


def entry(name: str) -> Entry:
    """The registered language ``name`` ("python", "r", "exec", "steps"), checked against the contract."""
    e = _entries.get(name)
    if e is None:
        try:
            mod = importlib.import_module(_ELSEWHERE.get(name, f"{__name__}.{name}"))
        except ModuleNotFoundError:
            raise UsageError(f"unknown operation language '{name}'") from None
        missing = [f for f in _REQUIRED if not callable(getattr(mod, f, None))]
        if missing:
            raise TypeError(f"language module {mod.__name__} lacks {', '.join(missing)}")
        extra = {f: getattr(mod, f) for f in _OPTIONAL if callable(getattr(mod, f, None))}
        e = Entry(name, tuple(getattr(mod, "SUFFIXES", ())), mod.inspect, mod.apply_flags, mod.command, **extra)
        _entries[name] = e
    return e


def suffixes() -> list[str]:
    """Every script suffix runyard runs."""
    return sorted(_scan())


def for_path(path: str | Path) -> Entry:
    """The language of a script path (by suffix)."""
    name = _scan().get(Path(path).suffix.lower())
    if name is None:
        known = ", ".join(sorted(_scan()))
        raise UsageError(f"cannot run '{path}': runyard runs scripts ending in {known}, and guild.yml operations")
    return entry(name)


def for_script(script: Script) -> Entry:
    """The language that prepares and starts ``script``."""
    return entry(script.language)


def inspect(path: str | Path) -> Script:
    """Inspect a script: its flags and front-matter options."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"script not found: {path}")
    return for_path(p).inspect(Path(os.path.abspath(p)))  # ../train.py: normalized, so the project is found as for an absolute path


def resolve(spec: str | Path | None) -> Script:
    """The operation ``spec`` names: a script path, else a guild.yml operation (``op``, ``model:op``;
    None: the guild.yml's default operation)."""
    if spec is None:
        from .. import guildfile

        gf = guildfile.find(Path.cwd())
        if gf is None:
            raise UsageError("name a script to run (there is no guild.yml here with a default operation)")
        return guildfile.load(gf).script(None)
    p = Path(spec)
    if p.is_file() or Path(spec).suffix.lower() in _scan():
        return inspect(p)
    from .. import guildfile

    gf = guildfile.find(Path.cwd())
    if gf is not None:
        return guildfile.load(gf).script(str(spec))
    raise UsageError(f"script not found: {spec}")
