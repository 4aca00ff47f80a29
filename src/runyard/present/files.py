"""A run's files as the pages show them: the file list, images, recorded source, text."""

from __future__ import annotations

import os
from pathlib import Path

from ..store.paths import read_capped


def walk_files(run_dir: Path, skip_guild: bool = True, limit: int = 5000) -> list[tuple[str, int]]:
    """``(relpath, size)`` of regular files in a run (symlinks not followed), sorted."""
    out: list[tuple[str, int]] = []
    root = str(run_dir)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            rel_dir = ""
            if skip_guild and ".guild" in dirnames:
                dirnames.remove(".guild")
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                continue
            try:
                size = os.path.getsize(p)
            except OSError:
                continue
            out.append(((rel_dir + "/" if rel_dir else "") + name, size))
            if len(out) >= limit:
                return out
    return out


IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp", ".svg": "image/svg+xml", ".bmp": "image/bmp"}


def source_files(run_dir: Path) -> list[str]:
    """Source files recorded for the run (its manifest)."""
    from ..launch.sourcecode import manifest_files

    return manifest_files(Path(run_dir))


def read_text(path: Path, limit: int = 2_000_000) -> tuple[str, bool]:
    """A file's text (UTF-8, undecodable bytes replaced) and whether it was cut at ``limit`` bytes."""
    data, cut = read_capped(path, limit)
    return data.decode("utf-8", "replace"), cut
