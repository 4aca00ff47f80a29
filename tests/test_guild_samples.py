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

import os
import shlex
import shutil
from pathlib import Path

import pytest

# A project's first case runs all of the project's cases under Guild AI 0.9 and runyard (Guild
# takes about a second a run): up to a minute on a busy machine.
pytestmark = pytest.mark.timeout(600)

from conftest import cli
from guildrun import attr, files, guild_exe, norm, opname, run_guild, scalars

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
    ("flags", "import-all-args"),
    ("flags", "import-all-globals f_int=3"),
    ("flags", "merge-by-arg-name"),
    ("flags", "store-true"),
    ("flag-vals", "args"),
    ("flag-vals", "globals"),
    ("run-scripts", "say.py"),
    ("run-scripts", "say2"),
    ("run-scripts", "say2.py"),
    ("sleep", "sleep.py seconds=0.1"),
    ("inherit-and-include", "m:op-b"),
    ("anonymous-model", "op1"),
    ("hparam-summaries", "echo.py x_flag=2"),
    ("natsort", "op.py"),
    ("long-run-names", "test.py"),
    ("model-proxies", "python-script.py"),
    ("delete-on-success", "op"),
    ("delete-on-success", "op fail=yes"),
    ("step-checks", "gen-output"),
    ("step-checks", "gen-files count=2"),
    ("get-started", "train.py noise=0"),  # noise=0: the loss is the same in every run
    ("run-attrs", "op"),
    ("scalars", "output-and-summaries"),
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
    "inherit-and-include: m:op-b": {"status": "both refuse the guild.yml (`extends: pkg/b` names a Guild "
                                              "package, not a file); runyard exits 2, as for all bad input, Guild 1"},
    "model-proxies: python-script.py": {
        "status": "Guild 0.9 fails before the run starts: its source code check crashes on a file in `logs/` "
                  "whose encoding chardet cannot tell (a Guild bug); runyard runs the script",
        "deps": "follows from the status (Guild's run is left pending)", "output": "as status"},
    "delete-on-success: op": dict.fromkeys(
        ("ops", "status", "flags", "label", "deps", "steps", "scalars", "manifest", "files", "output"),
        "not supported: `delete-on-success` is ignored with one line (runyard keeps every run); Guild deletes "
        "the run"),
    "anonymous-model: op1": {"output": "`exec: op1` cannot start (no such program): runyard records why in the "
                                       "run's output, Guild only prints it"},
    "scalars: output-and-summaries": {
        "status": "not supported: Guild's `guild.summary` module; the script imports `guild`, which runyard's "
                  "Python does not have, so the run ends in error",
        "scalars": "as status", "files": "as status", "output": "as status"},
}

FIXTURES = Path(__file__).parent / "fixtures" / "guild-projects"  # `@name`: a project of ours
ASPECTS = ("ops", "status", "flags", "label", "deps", "steps", "scalars", "manifest", "files", "output")


def _samples() -> Path:
    lib = Path(guild_exe()).parent.parent / "lib"
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
    out = []
    for p, command in CASES:
        if p != project:
            continue
        before = set(os.listdir(home / "runs")) if (home / "runs").exists() else set()
        args = shlex.split(command)
        if tool == "guild":
            r = run_guild("run", "-y", *args, home=home, cwd=proj, timeout=300)
        else:
            r = cli("run", "-y", *args, cwd=proj, env={"GUILD_HOME": str(home)}, timeout=300)
        after = set(os.listdir(home / "runs")) if (home / "runs").exists() else set()
        made = sorted(after - before, key=lambda n: attr(home / "runs" / n, "started") or 0)
        out.append((made, r.returncode, r.stderr[-1500:]))
    return out


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


def _view(home: Path, made: list[str], code: int) -> dict:
    """What a case made, aspect by aspect, run ids replaced by operation names."""
    runs = [home / "runs" / n for n in made]
    names = {d.name: opname(d) for d in (home / "runs").iterdir()} if (home / "runs").exists() else {}
    sources = {m[1] for d in runs for m in _manifest(d) if m[0] == "s"}
    view: dict = {"ops": sorted(opname(d) for d in runs), "status": (code, sorted(
        _status(d) for d in runs))}
    for aspect in ("flags", "label", "deps", "steps"):
        view[aspect] = sorted(repr(norm(attr(d, aspect), names)) for d in runs)
    view["scalars"] = sorted(repr(scalars(d)) for d in runs)
    view["manifest"] = sorted(repr(_manifest(d)) for d in runs)
    view["files"] = sorted(repr(dict(sorted(files(d, names, sources, skip={"__pycache__"}).items()))) for d in runs)
    # What was printed, not in which order: stdout and stderr reach the output file interleaved
    # differently (Guild even joins a stderr line to a stdout line), so its characters, sorted.
    view["output"] = sorted(repr("".join(sorted("".join(_output(d).split()))))
                            for d in runs if not attr(d, "steps"))
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


def _run_project(base: Path, samples: Path, project: str) -> dict[str, dict]:
    """Run a project's cases with both tools side by side (Guild AI is slow to start); the view of
    each case, by case id."""
    from concurrent.futures import ThreadPoolExecutor

    src = FIXTURES / project[1:] if project.startswith("@") else samples / project
    for tool in ("guild", "runyard"):
        shutil.copytree(src, base / tool / "p" / project, ignore=shutil.ignore_patterns("__pycache__"))
    with ThreadPoolExecutor(2) as pool:
        jobs = {t: pool.submit(_run_cases, base, project, t) for t in ("guild", "runyard")}
        results = {t: j.result() for t, j in jobs.items()}
    views = {}
    for i, case in enumerate(c for c in CASES if c[0] == project):
        pair = {}
        for tool in ("guild", "runyard"):
            made, code, err = results[tool][i]
            pair[tool] = _view(base / tool / "h" / project, made, code), err
        views[case_id(case)] = pair
    return views


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The views of the cases, a project's all at once when its first case asks for them. Each
    project's cases are one xdist group, so under pytest-xdist a project runs on one worker only,
    and the projects are spread over the workers."""
    samples = _samples()
    base = tmp_path_factory.mktemp("samples")
    views: dict[str, dict] = {}

    def view_of(case: tuple[str, str]) -> dict:
        if case_id(case) not in views:
            views.update(_run_project(base, samples, case[0]))
        return views[case_id(case)]

    return view_of


def differences(pair: dict) -> dict[str, tuple]:
    (g, _), (y, _) = pair["guild"], pair["runyard"]
    return {a: (g[a], y[a]) for a in ASPECTS if g[a] != y[a]}


@pytest.mark.parametrize("case", [pytest.param(c, id=case_id(c), marks=pytest.mark.xdist_group("guild-" + c[0].replace("@", "ours-")))
                                  for c in CASES])
def test_sample_case_runs_as_guild_runs_it(ran, case):
    pair = ran(case)
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
    for extra in ([], ["--all"]):
        g = run_guild("ops", *extra, home=tmp_path / "home", cwd=proj)
        y = cli("ops", *extra, cwd=proj, env={"GUILD_HOME": str(tmp_path / "home")})
        assert g.returncode == y.returncode == 0, y.stderr
        assert y.stdout.splitlines() == g.stdout.splitlines()
    assert "_check" in y.stdout
