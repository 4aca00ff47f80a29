"""Dependencies of guild.yml operations (``requires:``), resolved as Guild AI 0.9 does.

:func:`resolve` finds every source *before* the run directory is made (a missing one is a
:class:`DependencyError` naming it); :func:`apply` copies (or links) the files into the new
run and returns the ``deps`` attribute in Guild's format::

    operation:prepare:              # resource name
      operation:prepare:            # source name
        config: <upstream run id>   # operation sources only
        paths: [../<id>/prepared.txt]   # run-relative
        uri: operation:prepare

Sources: ``file:`` (project-relative file or directory) and ``operation:`` (the marked, else
latest completed run of that operation; the flag ``operation:NAME=<run id or prefix>``, or
``NAME=...``, chooses one). Attributes: ``select`` (regex on relative paths), ``rename``
(``"pattern repl"``), ``target-path``, ``target-type: copy|link`` (Guild 0.9 copies by
default), ``name``, ``optional``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .. import opdef
from ..flags import FlagDef
from ..safedata import nested_repeat


class DependencyError(UsageError):
    """A dependency that cannot be resolved: the run is not made."""

    exit_code = 1


@dataclass
class Source:
    """One resolved source: where its files come from and where they go."""

    resource: str
    name: str  # the source name (``name:``, ``flag-name:`` or its uri)
    uri: str
    files: list[tuple[Path, str]]  # (absolute source path, run-relative target)
    link: bool = False
    config: str | None = None  # upstream run id
    recorded: list[Path] = field(default_factory=list)  # paths for the deps attr
    generated: tuple[str, str] | None = None  # (run-relative path, text): a flags-dest config file
    missing: bool = False  # an optional source that is not there (Guild records its resource, empty)


def _sources(script) -> list[tuple[str, dict]]:
    """(resource name, source spec) for every ``requires`` entry of the operation (a guild.yml
    operation's or a script's front matter: the same parser, :func:`runyard.opdef.requirements`)."""
    reqs = script.options.get("requires")
    if not reqs:
        return []
    resources = (script.op.model_data.get("resources") or {}) if script.op is not None else {}
    if script.op is not None:
        return opdef.requirements(reqs, script.op.guildfile.path.name, script.name, resources)
    return opdef.requirements(reqs, script.relpath, "the front matter")


def _base(script) -> Path:
    """Where ``file:`` sources are found: the guild.yml's directory, or the script's project."""
    return script.op.guildfile.dir if script.op is not None else script.project_dir


def dep_flags(script) -> dict[str, FlagDef]:
    """The flags operation dependencies add (``operation:prepare``), as Guild names them."""
    return opdef.dep_flags(_sources(script))


def normalize_flags(script, given: dict) -> dict:
    """``prepare=ID`` for ``operation:prepare=ID`` (when ``prepare`` is not a flag of its own)."""
    names = {r.split(":", 1)[-1]: r for r in dep_flags(script)}
    if not names:
        return given
    return {(names[k] if k in names and k not in script.flags else k): v for k, v in given.items()}


def keep_ids_raw(script, assigns: list[str], given: dict) -> dict:
    """``given`` with dependency flags (``prepare=6958e0``) kept as typed: run ids are text."""
    flags = dep_flags(script)
    if not flags:
        return given
    names = set(flags) | {n.split(":", 1)[-1] for n in flags}
    out = dict(given)
    for a in assigns:
        name, eq, raw = a.partition("=")
        if not eq or name not in out or name not in names:
            continue
        if name.startswith("operation:") or name not in script.flags:
            out[name] = raw
    return out


def resolve(script, values: dict, home: Path) -> list[Source]:
    """Every source of the operation's ``requires``; raises DependencyError naming a missing one.
    Operation dependencies' run ids are put into ``values`` (Guild keeps them as flags)."""
    base = _base(script)
    out = [s for s in [_config_source(script, values)] if s is not None]
    for resource, spec in _sources(script):
        raw, spec = spec, _filled(spec, values)  # names and uris keep `${flag}`, as in Guild
        flag = opdef.flag_name(raw)
        link = str(spec.get("target-type") or "copy") == "link"
        if "file" in spec:
            src = (base / str(spec["file"])).absolute()
            uri = opdef.uri(raw)
            if not src.exists():
                if spec.get("optional"):
                    out.append(Source(resource, opdef.source_name(raw), uri, [], missing=True))
                    continue
                raise DependencyError(f"missing dependency {uri} of {script.name}: {src} does not exist")
            if src.is_dir() and "select" in spec:
                selected = _select(_entries(src), spec)
                recorded = [p for p, _ in selected]
            else:  # a file, or a whole directory (one entry, as Guild records it)
                selected = [(src, src.name)]
                recorded = [src]
            if not selected and "select" in spec and not spec.get("optional"):
                raise DependencyError(f"missing dependency {uri} of {script.name}: nothing matches "
                                      f"select {spec['select']!r}")
            out.append(Source(resource, opdef.source_name(raw), uri, _targets(selected, spec), link,
                              recorded=recorded))
        else:
            opspec = str(spec["operation"])
            uri = opdef.uri(raw)
            chosen = values.get(flag) if flag else None
            run_dir = _upstream(script, opspec, chosen, home)
            if run_dir is None:
                if spec.get("optional"):
                    continue
                why = f"no run {chosen!r}" if chosen else "no completed run"
                raise DependencyError(f"missing dependency {uri} of {script.name}: {why} of operation {opspec}")
            if flag:
                values[flag] = run_dir.name
            # With select, any file of the run (its source too); without, the files it made.
            pairs = _entries(run_dir) if "select" in spec else _produced(run_dir)
            selected = _select(pairs, spec)
            if not selected and "select" in spec:
                raise DependencyError(f"missing dependency {uri} of {script.name}: run {run_dir.name[:8]} has "
                                      f"no file matching select {spec['select']!r}")
            out.append(Source(resource, opdef.source_name(raw), uri, _targets(selected, spec), link,
                              config=run_dir.name, recorded=[p for p, _ in selected]))
    return out


def _config_source(script, values: dict) -> Source | None:
    """A guild.yml operation's ``flags-dest: config:FILE``: as in Guild, FILE with the run's
    values is generated under ``.guild/generated/`` and is a dependency (``config:FILE``), not
    a source file."""
    from ..flags import dest as fdest

    if script.op is None or not script.flags_dest.startswith("config:"):
        return None
    rel = fdest.clean(script.flags_dest)
    text = fdest.generated(script.project_dir / rel, {k: v for k, v in values.items() if k in script.flags
                                                      and not k.startswith("operation:")})
    uri = f"config:{rel}"
    return Source(uri, uri, uri, [], generated=(rel, text))


def snapshot_excludes(script) -> set[str]:
    """Project-relative files that are ``file:`` dependencies: Guild leaves them out of the source
    snapshot (the dependency's copy, perhaps renamed, is what the run gets)."""
    base, root = _base(script), script.project_dir
    out = set()
    if script.op is not None and script.flags_dest.startswith("config:"):
        from ..flags.dest import clean

        out.add(clean(script.flags_dest))  # generated, a dependency (see _config_source)
    for _, spec in _sources(script):
        if "file" in spec:
            p = (base / str(spec["file"])).absolute()
            if p.is_file() and p.is_relative_to(root):
                out.add(p.relative_to(root).as_posix())
    return out


def _filled(spec: dict, values: dict) -> dict:
    """``spec`` with ``${flag}`` in its strings replaced by the run's flag values (``file: ${file}``)."""
    def fill(v: Any) -> Any:
        if isinstance(v, str) and "${" in v:
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(values[m.group(1)]) if values.get(m.group(1))
                          is not None else m.group(0), v)
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v
    return {k: fill(v) for k, v in spec.items()}


_MAX_ENTRIES = 100_000  # paths looked at under one dependency directory


def _entries(top: Path) -> list[tuple[Path, str]]:
    """Every file and directory under ``top`` (not ``.guild``), relative; links not followed."""
    out = []
    for root, dirs, files in os.walk(top):
        r = Path(root)
        if r == top:
            dirs[:] = [d for d in dirs if d != ".guild"]
        for name in sorted(dirs) + sorted(files):
            out.append((r / name, (r / name).relative_to(top).as_posix()))
        if len(out) > _MAX_ENTRIES:
            raise DependencyError(f"dependency directory {top} holds more than {_MAX_ENTRIES} paths")
    return sorted(out, key=lambda x: x[1])


def _select(pairs: list[tuple[Path, str]], spec: dict) -> list[tuple[Path, str]]:
    """The entries whose relative path matches a ``select`` pattern, each placed by its base name
    (as Guild places them); a selected directory brings its whole tree."""
    sel = spec.get("select")
    if sel is None:
        return pairs
    pats = [sel] if isinstance(sel, str) else list(sel)
    res = [safe_regex(str(p), "select") for p in pats]
    out = []
    taken: list[str] = []
    for p, rel in pairs:
        if any(rel == t or rel.startswith(t + "/") for t in taken):
            continue  # inside a directory already selected
        if any(r.fullmatch(rel) for r in res):
            if p.is_dir() and not p.is_symlink():
                taken.append(rel)
            out.append((p, p.name))
    return out


_REGEX_LIMIT = 500


def safe_regex(pattern: str, what: str) -> "re.Pattern":
    """A guild.yml regex, compiled, that cannot backtrack without bound: no repeat of a group
    that itself repeats (``(a+)+``, ``(a|aa)*``), and at most 500 characters."""
    if len(pattern) > _REGEX_LIMIT:
        raise UsageError(f"guild.yml: {what} pattern is longer than {_REGEX_LIMIT} characters")
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise UsageError(f"guild.yml: invalid {what} pattern {pattern!r}: {e}") from None
    if nested_repeat(pattern):
        raise UsageError(f"guild.yml: {what} pattern {pattern!r} repeats a repeated group (it could take "
                         "forever to match); write it without the nested repeat")
    return compiled


def _targets(pairs: list[tuple[Path, str]], spec: dict) -> list[tuple[Path, str]]:
    rename = spec.get("rename")
    rules = []
    for r in [rename] if isinstance(rename, (str, dict)) else rename or []:
        if isinstance(r, dict):
            rules.append((str(r.get("pattern", "")), str(r.get("repl", ""))))
        else:
            parts = shlex.split(str(r))
            rules.append((parts[0], parts[1] if len(parts) > 1 else ""))
    prefix = str(spec.get("target-path") or spec.get("path") or "").strip("/")
    rules = [(safe_regex(pat, "rename"), repl) for pat, repl in rules]
    out = []
    for p, rel in pairs:
        for pat, repl in rules:
            rel = pat.sub(repl, rel)
        if prefix:
            rel = f"{prefix}/{rel}"
        if rel.startswith("/") or ".." in rel.split("/"):
            raise UsageError(f"guild.yml: dependency target {rel!r} is outside the run directory")
        out.append((p, rel))
    return out


def _produced(run_dir: Path) -> list[tuple[Path, str]]:
    """The files a run made: everything but ``.guild``, its source snapshot and its own dependencies."""
    skip = set()
    try:
        for line in (run_dir / ".guild" / "manifest").read_text().splitlines():
            parts = shlex.split(line)
            if len(parts) >= 2 and parts[0] in ("s", "d"):
                skip.add(parts[1])
    except (FileNotFoundError, ValueError):
        pass
    out = []
    for root, dirs, files in os.walk(run_dir):
        r = Path(root)
        if r == run_dir:
            dirs[:] = [d for d in dirs if d != ".guild"]
        for f in sorted(files):
            rel = (r / f).relative_to(run_dir).as_posix()
            if rel not in skip:
                out.append((r / f, rel))
    return sorted(out, key=lambda x: x[1])


def _upstream(script, opspec: str, chosen: Any, home: Path) -> Path | None:
    """The run an ``operation:`` source uses: ``chosen`` (id or prefix), else marked, else latest completed."""
    from ..home import runs_dir
    from ..store.run import Run, parse_opref, status_of

    runs = runs_dir(home)
    model, _, name = opspec.rpartition(":")
    if not model and script.op is not None:
        model = script.op.model
    parent = os.environ.get("GUILD_RUNS_PARENT")
    if parent and (runs / parent).is_dir() and chosen is None:
        candidates = [runs / Path(os.readlink(p)).name for p in (runs / parent).iterdir() if p.is_symlink()]
    else:
        try:
            candidates = [runs / n for n in os.listdir(runs)]
        except FileNotFoundError:
            candidates = []
    if chosen is not None:
        c = str(chosen)
        hits = [p for p in candidates if p.name.startswith(c) and (p / ".guild" / "opref").exists()]
        if len(hits) > 1:
            raise DependencyError(f"run prefix {c!r} for operation:{opspec} matches {len(hits)} runs")
        if hits and parse_opref((hits[0] / ".guild" / "opref").read_text())[3] != name:
            raise DependencyError(f"run {hits[0].name[:8]} is not a run of operation {opspec}")
        return hits[0] if hits else None
    best: tuple | None = None
    for d in candidates:
        try:
            opref = parse_opref((d / ".guild" / "opref").read_text())
        except (FileNotFoundError, NotADirectoryError):
            continue
        if opref[3] != name or opref[2] != model or status_of(d) != "completed":
            continue
        r = Run(d)
        key = (bool(r.get("marked")), r.get("started") or 0)
        if best is None or key > best[0]:
            best = (key, d)
    return best[1] if best else None


def _random_name() -> str:
    """8 random lowercase letters and digits (Guild's ``.guild/generated/<name>/``)."""
    import secrets
    import string

    return "".join(secrets.choice(string.ascii_lowercase + string.digits + "_") for _ in range(8))


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def apply(sources: list[Source], run_dir: Path) -> dict:
    """Copy or link every source's files into ``run_dir``; add ``d`` lines to the manifest;
    return the ``deps`` attribute."""
    deps: dict = {}
    lines = []
    manifest = run_dir / ".guild" / "manifest"
    old = manifest.read_text() if manifest.exists() else ""
    snapshot = {parts[1] for parts in map(str.split, old.splitlines()) if len(parts) > 1 and parts[0] == "s"}
    for s in sources:
        if s.generated:
            rel, text = s.generated
            gen = run_dir / ".guild" / "generated" / _random_name() / rel
            gen.parent.mkdir(parents=True)
            gen.write_text(text, encoding="utf-8")
            s.files, s.recorded = [(gen, rel)], [gen]
        for src, rel in s.files:
            dst = run_dir / rel
            quoted = shlex.quote(rel)
            if quoted in snapshot or any(f.startswith(quoted + "/") for f in snapshot):
                # As Guild: the source file (or directory) is kept, the dependency skipped.
                print(f"runyard: {rel} of {s.uri} is also a source file of the run: kept the source file",
                      file=sys.stderr)
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            if s.link:
                os.symlink(os.path.relpath(src, dst.parent) if s.config else src, dst)
            elif src.is_dir():
                shutil.copytree(src, dst, symlinks=True)
            else:
                shutil.copy2(src, dst)
            sha = _sha1(src) if src.is_file() else "-"
            lines.append(" ".join(shlex.quote(x) for x in ("d", rel, sha, s.uri)))
        if s.missing:
            deps.setdefault(s.resource, {})
            continue
        entry: dict[str, Any] = {}
        if s.config:
            entry["config"] = s.config
        entry["paths"] = [os.path.relpath(p, run_dir) for p in s.recorded]  # (generated: .guild/generated/...)
        entry["uri"] = s.uri
        deps.setdefault(s.resource, {})[s.name] = entry
    if lines:
        manifest.write_text(old + "".join(l + "\n" for l in lines))
    return deps
