"""Script languages. Each module answers the same three questions about a script:

1. ``inspect(path) -> Script``: which flags and options does it declare?
2. ``apply_flags(script, run_dir, values)``: write the run's flag values into the
   run directory's copy (literal tokens only, line count unchanged) or its
   flags-dest file.
3. ``command(script, run_dir, values) -> (argv, env)``: what command runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import UsageError
from ..flags import FlagDef


@dataclass
class Script:
    """What runyard knows about a script before running it."""

    path: Path  # absolute path of the script in the project
    language: str  # "python" or "r"
    flags: dict[str, FlagDef] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # front matter
    flags_dest: str = "globals"  # "globals", "args", or a project-relative file ("flags.yml")
    hint: str = ""  # what to add when a flag is unknown and the script has none (a flags-dest)

    @property
    def project_dir(self) -> Path:
        """The directory whose files are snapshot: the cwd if it holds the script, else the script's dir."""
        cwd = Path.cwd()
        return cwd if self.path.is_relative_to(cwd) else self.path.parent

    @property
    def relpath(self) -> str:
        """The script's path inside the project (and so inside the run directory), POSIX."""
        return self.path.relative_to(self.project_dir).as_posix()

    @property
    def name(self) -> str:
        """The operation name, as Guild names script operations: the relative path."""
        return self.relpath


def for_path(path: str | Path) -> ModuleType:
    """The language module for a script path (by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".py":
        from . import python

        return python
    if suffix == ".r":
        from . import r

        return r
    raise UsageError(f"cannot run '{path}': runyard runs Python (.py) and R (.R) scripts")


def inspect(path: str | Path) -> Script:
    """Inspect a script: its flags and front-matter options."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"script not found: {path}")
    return for_path(p).inspect(p.absolute())


# The contract every language module (python.py, r.py) fulfils:
#
#   inspect(path: Path) -> Script
#       path is absolute. Flags in declaration order. Front matter in Script.options.
#       Raises UsageError with one line for a script it cannot parse.
#   apply_flags(script: Script, run_dir: Path, values: dict) -> None
#       The run directory already holds the source snapshot (script at run_dir / script.relpath).
#       Writes ``values`` (every flag's value for this run) into the copy: literal tokens only,
#       line count unchanged, values equal to the default left alone; or into the copy of the
#       flags-dest file. Never touches the project's files.
#   command(script: Script, run_dir: Path, values: dict) -> tuple[list[str], dict[str, str]]
#       argv to execute with cwd=run_dir, and environment variables to add.
