"""Issue 9 point 6: the annotation and trash commands, each through the real ``runyard`` command,
and the run filters in a namespace of their own (they select runs, and only when given)."""

from __future__ import annotations

import pytest
import yaml

import runyard
from conftest import cli, write


@pytest.fixture
def three(project):
    """Three completed runs, x = 1, 2, 3 (newest last); their ids, newest first."""
    write(project / "train.py", "x = 1\nprint(f'loss: {x / 10}')\n")
    for x in (1, 2, 3):
        runyard.run("train.py", {"x": x}, echo=False)
    return sorted((p.name for p in (project / ".guild" / "runs").iterdir()),
                  key=lambda i: _attr(project, i, "started"), reverse=True)


def _attr(project, rid: str, name: str):
    """An attribute read straight from its file (as Guild AI would), None when absent."""
    p = project / ".guild" / "runs" / rid / ".guild" / "attrs" / name
    return yaml.safe_load(p.read_text()) if p.exists() else None


def ok(*args: str) -> str:
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def by_x(project, ids: list[str], name: str) -> dict:
    return {_attr(project, i, "flags")["x"]: _attr(project, i, name) for i in ids}


def test_tag_adds_removes_and_clears(project, three):
    assert ok("tag", "1", "-a", "best", "--add", "v2", "-y").strip() == "Tagged 1 run(s)"
    ok("tag", "1:2", "-a", "both", "-y")
    ok("tag", "1", "-d", "v2", "-y")
    assert by_x(project, three, "tags") == {3: ["best", "both"], 2: ["both"], 1: None}
    ok("tag", "-Ft", "both", "--delete", "both", "-y")  # a filter picks the runs
    assert by_x(project, three, "tags") == {3: ["best"], 2: None, 1: None}
    ok("tag", "1", "-c", "-a", "fresh", "-y")  # clear first, then add
    ok("tag", "-a", "all", "-y")  # no RUN and no filter: every run
    assert by_x(project, three, "tags") == {3: ["fresh", "all"], 2: ["all"], 1: ["all"]}
    r = cli("tag", "-Ft", "nomatch", "-a", "x", "-y")
    assert r.returncode == 2 and r.stderr.strip() == "runyard: no runs match the selection"
    r = cli("tag", "1", "-y")
    assert r.returncode == 2 and r.stderr.startswith("runyard: ") and "Traceback" not in r.stderr
    assert cli("runs", "-Ft", "fresh").stdout.count("\n") == 1


def test_mark_and_unmark(project, three):
    assert ok("mark", "1:2", "-y").strip() == "Marked 2 run(s)"
    assert by_x(project, three, "marked") == {3: True, 2: True, 1: None}
    assert ok("mark", "-Fm", "-Fl", "x=2", "--clear", "-y").strip() == "Unmarked 1 run(s)"
    assert by_x(project, three, "marked") == {3: True, 2: None, 1: None}
    out = ok("runs", "-Fm")
    assert out.count("\n") == 1 and "x=3" in out


def test_label_set_prepend_append_remove_clear(project, three):
    assert ok("label", "1", "--set", "x", "-y").strip() == "Labeled 1 run(s)"  # exited 2 before
    ok("label", "1", "-p", "first", "--append", "last", "-y")
    assert _attr(project, three[0], "label") == "first x last"
    ok("label", "1", "--remove", "x", "-rm", "first", "-y")
    assert _attr(project, three[0], "label") == "last"
    ok("label", "2", "-s", "two words", "-y")
    ok("label", "2", "--prepend", "a", "-a", "z", "-y")
    assert by_x(project, three, "label") == {3: "last", 2: "a two words z", 1: "x=1"}
    ok("label", "-Fl", "words", "--clear", "-y")  # the filter picks run 2 only
    assert by_x(project, three, "label") == {3: "last", 2: None, 1: "x=1"}
    ok("label", "-Fl", "x=1", "-Fl", "last", "-s", "same", "-y")  # repeated filter: either label
    assert by_x(project, three, "label") == {3: "same", 2: None, 1: "same"}
    r = cli("label", "1", "-y")
    assert r.returncode == 2 and r.stderr.startswith("runyard: ") and "Traceback" not in r.stderr


def test_comment_add_list_delete_clear(project, three):
    assert ok("comment", "1", "--add", "looks good", "-y").strip() == "Updated comments of 1 run(s)"  # exited 2
    ok("comment", "1", "-a", "second", "-y")
    ok("comment", "2", "-a", "on two", "-y")
    assert [c["body"] for c in _attr(project, three[0], "comments")] == ["looks good", "second"]
    c = _attr(project, three[0], "comments")[0]
    assert set(c) == {"body", "host", "time", "user"} and isinstance(c["time"], int)
    out = ok("comment", "1", "--list").splitlines()
    assert out[0].startswith(f"[{three[0][:8]}]") and out[1].startswith("  1. ") and out[2].strip() == "looks good"
    assert out[4].strip() == "second" and len(out) == 5
    listed = ok("comment", "-Fc", "two", "-l")  # a filter on the comment text picks run 2
    assert "on two" in listed and "looks good" not in listed
    ok("comment", "1", "--delete", "1", "-y")
    assert [c["body"] for c in _attr(project, three[0], "comments")] == ["second"]
    r = cli("comment", "1", "-d", "5", "-y")
    assert r.returncode == 2 and "has no comment 5" in r.stderr
    r = cli("comment", "-Fc", "nomatch", "-a", "x", "-y")  # commented on every run before
    assert r.returncode == 2 and "no runs match" in r.stderr
    assert by_x(project, three, "comments")[1] is None
    ok("comment", "-c", "-y")
    assert by_x(project, three, "comments") == {3: None, 2: None, 1: None}


def test_runs_purge_removes_only_deleted_runs_for_good(project, three):
    trash = project / ".guild" / "trash" / "runs"
    ok("runs", "delete", "1:2", "-y")
    assert sorted(p.name for p in trash.iterdir()) == sorted(three[:2])
    assert ok("runs", "purge", three[0][:8], "-y").strip() == "Purged 1 run(s)"
    assert [p.name for p in trash.iterdir()] == [three[1]]
    assert ok("runs", "purge", "-y").strip() == "Purged 1 run(s)"
    assert list(trash.iterdir()) == [] and ok("runs", "--deleted") == ""
    assert [p.name for p in (project / ".guild" / "runs").iterdir()] == [three[2]]  # kept
    r = cli("runs", "purge", "-y")
    assert r.returncode == 2 and "no runs match" in r.stderr


def test_filters_apply_only_when_given_and_never_take_a_commands_own_values(project, three):
    # Each of these once set the filter instead: a label "['x=1']" on every run, and so on.
    ok("label", "-Fl", "x=1", "--clear", "-y")
    assert by_x(project, three, "label") == {3: "x=3", 2: "x=2", 1: None}
    ok("comment", "-Fl", "x=2", "--add", "hi", "-y")
    assert [x for x, c in by_x(project, three, "comments").items() if c] == [2]
    ok("tag", "-Fc", "hi", "-a", "commented", "-y")
    assert by_x(project, three, "tags") == {3: None, 2: ["commented"], 1: None}
    # The long forms of the filters work as well, beside the command's own --label-like options.
    ok("label", "--label", "x=3", "--set", "three", "-y")
    assert by_x(project, three, "label") == {3: "three", 2: "x=2", 1: None}


def _commands(group, prefix=()):
    import click

    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


def test_every_command_keeps_every_filter_spelling_and_its_own_options():
    import click

    from runyard.cli import _Filtered, main
    from runyard.options import FILTER_OPTIONS

    filtered = 0
    for path, cmd in _commands(main):
        if not isinstance(cmd, _Filtered):
            continue
        filtered += 1
        ctx = click.Context(cmd)
        strings = [o for p in cmd.get_params(ctx) for o in (*p.opts, *p.secondary_opts)]
        assert len(strings) == len(set(strings)), path  # no option string twice
        assert "filters" not in [p.name for p in cmd.params], path  # the name the filters arrive under
        for opts, *_ in FILTER_OPTIONS:
            assert set(opts) <= set(strings), (path, opts)
    assert filtered >= 18
    for command in ("label", "comment"):
        help_ = ok(command, "--help")
        assert "-Fl, --label" in help_ and "-Fc, --comment" in help_ and "-c, --clear" in help_
