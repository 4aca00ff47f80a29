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

    @property
    def name(self) -> str:
        """The operation name: the script's path relative to the project (cwd)."""
        try:
            return str(self.path.relative_to(Path.cwd()))
        except ValueError:
            return self.path.name


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
