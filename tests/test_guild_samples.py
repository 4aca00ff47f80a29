"""Guild AI 0.9's own sample projects, run by Guild and by runyard, compared.

Guild's wheel ships its test projects (``guild/tests/samples/projects/``). Each case below is
one ``run`` command in one of them; a project's cases run in order in one home per tool (later
operations use earlier runs), the two tools side by side. For every case the runs it made are
compared: operation names, status, the ``flags``, ``label``, ``deps`` and ``steps`` attributes,
the scalars, the source manifest, the files and links of the run directory and the output.

``DIFFERS`` names, per case, the aspects that differ on purpose (docs/guild-projects.md says
why); every other aspect must match, and an aspect listed there must still differ (so the
table stays true). The table in docs/guild-projects.md lists the cases.

Issue 22's differences, case by case: D1 labels `hello`, `labels`; D2 `${flag}` in a dependency
`resource-flag-refs`, `@differences: file-flag`; D3 `- operations:` `package`; D4 globals set to
None `hello: hello-file`, `quoted-flag-vals`; D5 private operations
`test_private_operations_are_listed_as_guild_lists_them`; D6 select-only sourcecode lists and
`/guild.yml` `copy-sourcecode: explicit-sourcecode`, `@differences: select-only`; D7 resource
flag names `resource-flags: multi-resource`, `op-source-with-flag-name`; D8 list globals
`@differences: lists`; D9 config flags `config-flags`; D10 `guild.pass` `resource-flags`,
`steps: m6:steps-all`; D11 dependencies `copy-sourcecode: downstream-conflict`, `op-source`
(`warn-if-empty`), `@differences: dir-dep`; D12 `@differences: sel-rename`; D13
`@differences: sel-dir`; D14 `copy-sourcecode: no-sourcecode`; D15 `sourcecode-dirs:
alt-dest`, `ls`; D16 `@differences: untyped`; D17 and D18 `@differences: pipe`, `steps:
m1:steps-repeat`; D19 `sub-commands: click-*`. The hostile inputs are in
tests/test_guildfile_hostile.py, front matter as an operation in tests/test_operation_model.py.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

# The module fixture runs every case under Guild AI 0.9 and runyard first (Guild takes about a
# second a run): a few minutes on a busy machine, beyond the default per-test timeout.
pytestmark = pytest.mark.timeout(1500)

from conftest import cli
from runyard.store.attrs import read as _read
from runyard.store.run import parse_opref
from runyard.store.tfevents import run_scalars

# (project, command): the command's words after `run -y` in one of Guild's sample projects
# (or, `@name`, in tests/fixtures/guild-projects/name).
CASES = [
    ("hello", "hello"),
    ("hello", "hello msg='Hello Guild!'"),
    ("hello", "hello-file"),
    ("hello", "hello-file file=hello.txt"),
    ("hello", "hello-op"),
    ("labels", "op s='hi there'"),
    ("simple", "simple"),
    ("op-env", "test"),
    ("run-env", "all-env"),
    ("copy-file", "copy-file"),
    ("multi-run", "up"),
    ("alias", "test"),
    ("flags-2", "json-decodable"),
    ("tensorboard", "op"),
    ("additional-deps", "op.py"),
    ("ls", "alt-sourcecode-2"),
    ("sourcecode-dirs", "alt-root"),
    ("sourcecode-dirs", "alt-dest"),
    ("copy-sourcecode", "no-sourcecode"),
    ("copy-sourcecode", "explicit-sourcecode"),
    ("steps", "m1:steps-basic"),
    ("steps", "m1:steps-repeat"),
    ("steps", "m1:steps-hello"),
    ("steps", "m6:steps-all"),
    ("package", "model-1:train lr=0.2"),
    ("resource-flags", "file-source"),
    ("resource-flags", "upstream"),
    ("resource-flags", "op-source"),
    ("resource-flags", "op-source-with-name"),
    ("resource-flags", "op-source-with-flag-name"),
    ("resource-flags", "file-source-with-name-2"),
    ("resource-flags", "multi-resource"),
    ("copy-sourcecode", "upstream"),
    ("copy-sourcecode", "downstream-conflict"),
    ("copy-sourcecode", "downstream-fixed"),
    ("flags-dest", "args"),
    ("flags-dest", "globals"),
    ("quoted-flag-vals", "globals.py f1=1 f3=hi"),
    ("python-script", "simple.py"),
    ("sub-commands", "click-a"),
    ("sub-commands", "click-b-sub b-sub-foo=3"),
    ("sub-commands", "argparse-a"),
    ("config-flags", "yaml"),
    ("config-flags", "json"),
    ("resource-flag-refs", "op1"),
    ("resource-flag-refs", "op1 filename=bar"),
    ("inline-resources", "print-msg"),
    ("inline-resources", "print-msg-2"),
    ("pythonpath", "sourcecode-dest"),
    ("op-main-package", "globals"),
    ("resources-3", "missing-file"),
    ("flags-3", "globals-default"),
    ("op-desc", "train"),
    # tests/fixtures/guild-projects/differences: the differences the samples don't show
    ("@differences", "sel-rename"),
    ("@differences", "sel-dir"),
    ("@differences", "dir-dep"),
    ("@differences", "untyped gamma=0.5"),
    ("@differences", "pipe"),
    ("@differences", "lists"),
    ("@differences", "lists l='3 4'"),
    ("@differences", "select-only"),
    ("@differences", "file-flag name=m2"),
]

# case -> {aspect: why it differs on purpose}
DIFFERS: dict[str, dict[str, str]] = {
    "copy-file: copy-file": {"status": "both refuse the guild.yml (a top-level mapping holding `model:`); "
                                       "runyard exits 2, as for all bad input, Guild 1"},
    "flags-2: json-decodable": {
        "flags": "the script's argparse default is `object()`: Guild runs the script to read it and stores its "
                 "repr; runyard reads parsers without running them and sees no literal default",
        "label": "follows from the flags"},
    "sub-commands: click-a": {
        "flags": "runyard names a click or argparse flag by its parameter (a_foo), Guild by its option "
                 "(a-foo); both spellings are accepted on the command line",
        "label": "follows from the flags"},
    "sub-commands: click-b-sub b-sub-foo=3": {"flags": "as click-a", "label": "as click-a"},
    "sub-commands: argparse-a": {
        "flags": "not supported: argparse sub-commands; runyard reads every add_argument of the module",
        "label": "follows from the flags", "output": "the script refuses the other commands' options",
        "status": "so the run ends in error"},
    "pythonpath: sourcecode-dest": {"output": "the script prints sys.path: each tool's own packages are on it "
                                              "(the run's `src` first in both)"},
    "op-env: test": {"output": "the script prints PYTHONPATH: Guild puts its own packages on it, runyard "
                               "only the operation's `env`"},
}

FIXTURES = Path(__file__).parent / "fixtures" / "guild-projects"  # `@name`: a project of ours
ASPECTS = ("ops", "status", "flags", "label", "deps", "steps", "scalars", "manifest", "files", "output")


def _guild() -> str:
    exe = os.environ.get("RUNYARD_GUILD") or str(Path(__file__).parent.parent / ".venv-guild/bin/guild")
    if not Path(exe).exists():
        pytest.skip("Guild AI 0.9 venv not found: run `bash scripts/guild-venv.sh` (scripts/test.sh does)")
    return exe


def _samples() -> Path:
    lib = Path(_guild()).parent.parent / "lib"
    found = sorted(lib.glob("python3*/site-packages/guild/tests/samples/projects"))
    if not found:
        pytest.skip("Guild AI 0.9's sample projects are not in its venv")
    return found[0]


def case_id(case: tuple[str, str]) -> str:
    return f"{case[0]}: {case[1]}"


def _run_cases(base: Path, project: str, tool: str) -> list[tuple[list[str], int]]:
    """Run the project's cases with one tool; per case, (run ids it made, exit status)."""
    proj, home = base / tool / "p" / project, base / tool / "h" / project  # same relative paths
    home.mkdir(parents=True)
    env = {**os.environ, "GUILD_HOME": str(home), "NO_WARN_RUNDIR": "1"}
    out = []
    for p, command in CASES:
        if p != project:
            continue
        before = set(os.listdir(home / "runs")) if (home / "runs").exists() else set()
        args = shlex.split(command)
        if tool == "guild":
            r = subprocess.run([_guild(), "run", "-y", *args], cwd=proj, env=env, capture_output=True,
                               text=True, timeout=300)
        else:
            r = cli("run", "-y", *args, cwd=proj, env={"GUILD_HOME": str(home)}, timeout=300)
        after = set(os.listdir(home / "runs")) if (home / "runs").exists() else set()
        made = sorted(after - before, key=lambda n: _attr(home / "runs" / n, "started") or 0)
        out.append((made, r.returncode, r.stderr[-1500:]))
    return out


def _attr(run_dir: Path, name: str):
    p = run_dir / ".guild" / "attrs" / name
    return _read(p) if p.exists() else None


def _opname(run_dir: Path) -> str:
    try:
        opref = parse_opref((run_dir / ".guild" / "opref").read_text())
    except FileNotFoundError:
        return "?"
    return f"{opref[2]}:{opref[3]}" if opref[2] else opref[3]


def _norm(value, names: dict[str, str]):
    if isinstance(value, dict):
        return {_norm(k, names): _norm(v, names) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list):
        return [_norm(v, names) for v in value]
    if isinstance(value, str):
        value = re.sub(r"\.guild/generated/[^/]+/", ".guild/generated/<random>/", value)
        return re.sub(r"[0-9a-f]{32}", lambda m: f"<{names.get(m.group(0), '?')}>", value)
    return value


def _manifest(run_dir: Path) -> list[tuple[str, ...]]:
    try:
        text = (run_dir / ".guild" / "manifest").read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        parts = shlex.split(line)
        if parts and parts[0] == "s":
            out.append(tuple(parts[:3]))
        elif parts:
            out.append((parts[0], parts[1]))
    return sorted(out)


def _files(run_dir: Path, names: dict[str, str], sources: set[str]) -> dict[str, str]:
    """Everything outside .guild: files by digest (source files by presence: runyard writes flag
    values into its copy of a globals script), links by target."""
    out = {}
    for root, dirs, files in os.walk(run_dir):
        r = Path(root)
        if r == run_dir:
            dirs[:] = [d for d in dirs if d != ".guild"]
        for name in dirs + files:
            p = r / name
            rel = p.relative_to(run_dir).as_posix()
            if p.is_symlink():
                out[rel] = "link " + _norm(os.readlink(p), names)
            elif p.is_file():
                out[rel] = "file" if rel in sources else "file " + hashlib.sha1(p.read_bytes()).hexdigest()
        dirs[:] = [d for d in dirs if not (r / d).is_symlink() and d != "__pycache__"]
    return out


def _scalars(run_dir: Path) -> list:
    return sorted((p, t, round(v, 6), s) for p, t, v, s in run_scalars(run_dir) if p == ".guild")


def _view(home: Path, made: list[str], code: int) -> dict:
    """What a case made, aspect by aspect, run ids replaced by operation names."""
    runs = [home / "runs" / n for n in made]
    names = {d.name: _opname(d) for d in (home / "runs").iterdir()} if (home / "runs").exists() else {}
    sources = {m[1] for d in runs for m in _manifest(d) if m[0] == "s"}
    view: dict = {"ops": sorted(_opname(d) for d in runs), "status": (code, sorted(
        _status(d) for d in runs))}
    for aspect in ("flags", "label", "deps", "steps"):
        view[aspect] = sorted(repr(_norm(_attr(d, aspect), names)) for d in runs)
    view["scalars"] = sorted(repr(_scalars(d)) for d in runs)
    view["manifest"] = sorted(repr(_manifest(d)) for d in runs)
    view["files"] = sorted(repr(dict(sorted(_files(d, names, sources).items()))) for d in runs)
    # What was printed, not in which order: stdout and stderr reach the output file interleaved
    # differently (Guild even joins a stderr line to a stdout line), so its characters, sorted.
    view["output"] = sorted(repr("".join(sorted("".join(_output(d).split()))))
                            for d in runs if not _attr(d, "steps"))
    return view


def _status(run_dir: Path) -> str:
    from runyard.store.run import status_of

    return status_of(run_dir)


def _output(run_dir: Path) -> str:
    try:
        text = (run_dir / ".guild" / "output").read_text(errors="replace")
    except FileNotFoundError:
        return ""
    text = text.replace(f"{run_dir}/", "")  # Guild names the script by its absolute path in tracebacks
    return "\n".join(line for line in text.splitlines() if not line.startswith(("INFO: [guild]",
                                                                               "INFO: [runyard]")))


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Every case run by both tools, projects concurrently (Guild AI is slow to start)."""
    from concurrent.futures import ThreadPoolExecutor

    samples = _samples()
    base = tmp_path_factory.mktemp("samples")
    projects = sorted({p for p, _ in CASES})
    for tool in ("guild", "runyard"):
        for p in projects:
            src = FIXTURES / p[1:] if p.startswith("@") else samples / p
            shutil.copytree(src, base / tool / "p" / p, ignore=shutil.ignore_patterns("__pycache__"))
    with ThreadPoolExecutor(3) as pool:
        jobs = {(p, t): pool.submit(_run_cases, base, p, t) for p in projects for t in ("guild", "runyard")}
        results = {k: j.result() for k, j in jobs.items()}
    views = {}
    for p in projects:
        cases = [c for c in CASES if c[0] == p]
        for i, case in enumerate(cases):
            pair = {}
            for tool in ("guild", "runyard"):
                made, code, err = results[(p, tool)][i]
                pair[tool] = _view(base / tool / "h" / p, made, code), err
            views[case_id(case)] = pair
    return views


def differences(pair: dict) -> dict[str, tuple]:
    (g, _), (y, _) = pair["guild"], pair["runyard"]
    return {a: (g[a], y[a]) for a in ASPECTS if g[a] != y[a]}


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_sample_case_runs_as_guild_runs_it(ran, case):
    pair = ran[case_id(case)]
    diff = differences(pair)
    expected = DIFFERS.get(case_id(case), {})
    unexpected = {a: v for a, v in diff.items() if a not in expected}
    assert not unexpected, (unexpected, pair["runyard"][1], pair["guild"][1])
    assert set(expected) <= set(diff), f"now matches Guild: {sorted(set(expected) - set(diff))}"


def test_private_operations_are_listed_as_guild_lists_them(tmp_path):
    """`ops` hides `_private` operations unless `--all`; its listing is Guild's, line for line."""
    proj = tmp_path / "differences"
    shutil.copytree(FIXTURES / "differences", proj)
    (tmp_path / "home").mkdir()
    env = {**os.environ, "GUILD_HOME": str(tmp_path / "home"), "NO_WARN_RUNDIR": "1"}
    for extra in ([], ["--all"]):
        g = subprocess.run([_guild(), "ops", *extra], cwd=proj, env=env, capture_output=True, text=True, timeout=120)
        y = cli("ops", *extra, cwd=proj, env={"GUILD_HOME": str(tmp_path / "home")})
        assert g.returncode == y.returncode == 0, y.stderr
        assert y.stdout.splitlines() == g.stdout.splitlines()
    assert "_check" in y.stdout
