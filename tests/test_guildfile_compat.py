"""guild.yml projects side by side: the same project run by Guild AI 0.9 and by runyard.

Each project in tests/fixtures/guild-projects/ runs once with each tool (same project
directory, two homes at the same depth, so relative dependency paths compare equal). Then the
run directories (files, their contents, links), the flags/deps/label/tags attributes and the
scalars must be the same, run ids mapped to operation names. Guild then reads runyard's runs.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import cli
from guildrun import attr, files, guild_exe, norm, opname, run_guild, scalars

PROJECTS = Path(__file__).parent / "fixtures" / "guild-projects"

# The module fixture runs every project with both tools: under pytest-xdist the tests share one worker.
pytestmark = pytest.mark.xdist_group("guildfile-compat")


def _runs(home: Path) -> dict[str, Path]:
    """operation display name -> run dir (each operation runs once per project here)."""
    out = {opname(d): d for d in sorted((home / "runs").iterdir())}
    assert "?" not in out, f"a run without an opref in {home}"
    return out


def _names(home: Path) -> dict[str, str]:
    return {d.name: op for op, d in _runs(home).items()}


def _attrs(run_dir: Path, names: dict[str, str]) -> dict:
    return {a: norm(attr(run_dir, a), names) for a in ("flags", "deps", "label", "tags", "steps")}


def _expected_scalars(guild_run: Path) -> list:
    """What runyard records for the output of a run Guild made: Guild's scalars, and, for an
    operation on the default patterns, runyard's addition to them too (lines with several
    key: value / key=value pairs, docs/scalars.md) — checked to include all of Guild's."""
    from runyard.launch.scalars import test_patterns

    guild = scalars(guild_run)
    if ((attr(guild_run, "op") or {}).get("output-scalars")) is not None:
        return guild
    text = (guild_run / ".guild" / "output").read_text()
    ours = sorted((".guild", t, round(v, 6), s)
                  for t, v, s in test_patterns(None, text, ignore_keys=list(attr(guild_run, "flags") or {})))
    assert set(guild) <= set(ours)
    return ours


COMMANDS = {
    "pipeline": [["pipeline"]],
    "models": [["train", "epochs=3"], ["mlp:train"], ["mlp:test"]],
    "argparse": [["train", "epochs=3", "verbose=yes"]],
}


def _run_project(base: Path, project: str, tool: str) -> tuple:
    """Run a project's commands with one tool (its own home); (tool, args, process) of a failure."""
    proj, home = base / project, base / "homes" / project / tool
    home.mkdir(parents=True)
    for args in COMMANDS[project]:
        if tool == "guild":
            r = run_guild("run", "-y", *args, home=home, cwd=proj, timeout=300)
        else:
            r = cli("run", "-y", *args, cwd=proj, env={"GUILD_HOME": str(home)})
        if r.returncode != 0:
            return tool, args, r.stdout[-2000:], r.stderr[-2000:]
    return ()


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Every project run by both tools, concurrently (Guild AI is slow to start)."""
    from concurrent.futures import ThreadPoolExecutor

    guild_exe()
    base = tmp_path_factory.mktemp("side-by-side")
    for project in COMMANDS:
        shutil.copytree(PROJECTS / project, base / project)
    with ThreadPoolExecutor(4) as pool:
        jobs = {(p, t): pool.submit(_run_project, base, p, t) for p in COMMANDS for t in ("guild", "runyard")}
        failures = {k: j.result() for k, j in jobs.items()}
    return base, failures


def _side_by_side(ran, project: str):
    base, failures = ran
    for tool in ("guild", "runyard"):
        assert not failures[(project, tool)], failures[(project, tool)]
    proj = base / project
    homes = {tool: base / "homes" / project / tool for tool in ("guild", "runyard")}
    runs = {tool: _runs(home) for tool, home in homes.items()}
    assert sorted(runs["runyard"]) == sorted(runs["guild"])
    names = {tool: _names(home) for tool, home in homes.items()}
    for op in runs["guild"]:
        g, y = runs["guild"][op], runs["runyard"][op]
        main = op.rpartition(":")[2] + ".py"
        assert files(y, names["runyard"], {main}) == files(g, names["guild"], {main}), op
        assert _attrs(y, names["runyard"]) == _attrs(g, names["guild"]), op
        assert scalars(y) == _expected_scalars(g), op
        if not attr(g, "steps"):  # what the script printed (its arguments, flags, inputs)
            assert (y / ".guild" / "output").read_bytes() == (g / ".guild" / "output").read_bytes(), op
    return proj, homes, runs


def _guild_reads(home: Path, proj: Path, *args: str) -> str:
    return run_guild(*args, home=home, cwd=proj, check=True).stdout


def test_pipeline_with_file_and_operation_deps_matches_guild(ran):
    proj, homes, runs = _side_by_side(ran, "pipeline")
    pipe = runs["runyard"]["pipeline"]
    assert sorted(os.readlink(pipe / s) for s in ("prepare", "train", "evaluate")) == sorted(
        f"../{runs['runyard'][s].name}" for s in ("prepare", "train", "evaluate"))
    # Guild reads runyard's pipeline: status, steps, deps and the links.
    info = _guild_reads(homes["runyard"], proj, "runs", "info", pipe.name[:8])
    assert "status: completed" in info and "run: train" in info
    info = _guild_reads(homes["runyard"], proj, "runs", "info", runs["runyard"]["train"].name[:8])
    assert "operation: train" in info and "lr: 0.2" in info
    listing = _guild_reads(homes["runyard"], proj, "ls", pipe.name[:8])
    assert all(f"{s}/" in listing for s in ("prepare", "train", "evaluate"))
    table = _guild_reads(homes["runyard"], proj, "compare", "-t", "-cc", ".run,.operation,.status,=lr")
    assert re.search(r"train\s+completed\s+0\.2", table), table
    # runyard reads Guild's pipeline the same way: steps, dependencies, links.
    gruns = runs["guild"]
    genv = {"GUILD_HOME": str(homes["guild"])}
    info = cli("runs", "info", gruns["pipeline"].name[:8], cwd=proj, env=genv).stdout
    for step in ("prepare", "train", "evaluate"):
        assert f"  {step}: {gruns[step].name[:8]} completed ({step}" in info, info
    info = cli("runs", "info", gruns["train"].name[:8], cwd=proj, env=genv).stdout
    assert f"  operation:prepare: {gruns['prepare'].name[:8]} {gruns['prepare']}/prepared.txt" in info, info
    listing = cli("ls", gruns["pipeline"].name[:8], cwd=proj, env=genv).stdout.splitlines()
    assert listing[1:] == ["  evaluate/", "  prepare/", "  train/"]
    assert "  evaluate/trained/model.txt" in cli("ls", "-L", gruns["pipeline"].name[:8], cwd=proj,
                                                 env=genv).stdout.splitlines()


def test_model_project_with_config_inheritance_matches_guild(ran):
    _side_by_side(ran, "models")


def test_argparse_project_with_flags_import_all_matches_guild(ran):
    proj, homes, runs = _side_by_side(ran, "argparse")
    cmd = attr(runs["runyard"]["train"], "cmd")
    assert cmd[1:] == ["train.py", "--data", "small", "--epochs", "3", "--lr", "0.1", "--optimizer", "sgd",
                       "--verbose"]


def test_guild_batch_kept_shows_as_guild_names_it(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "train.py").write_text("x = 1\nprint('loss: %s' % x)\n")
    home = tmp_path / "home"
    home.mkdir()
    run_guild("run", "-y", "train.py", "x=[1,2]", "--keep-batch", home=home, cwd=proj, timeout=300, check=True)
    r = cli("runs", "--include-batch", cwd=proj, env={"GUILD_HOME": str(home)})
    assert [l.split()[1] for l in r.stdout.splitlines()] == ["train.py", "train.py", "train.py+"]
    r = cli("ls", "--include-batch", "3", cwd=proj, env={"GUILD_HOME": str(home)})
    assert len([l for l in r.stdout.splitlines() if l.endswith("/")]) == 2  # a link per trial
