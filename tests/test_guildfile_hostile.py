"""A hostile (or just mistaken) guild.yml gets one line, in under a second, and nothing is made.

Each file is read in-process (timed) and through the real CLI (the line the user sees). A
project's ordinary anchors and aliases stay allowed.
"""

from __future__ import annotations

import os
import time

import pytest

from conftest import cli, runs_in, write
from runyard import guildfile
from runyard.errors import UsageError


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\nop:\n  main: train\n  flags:\n    x: *a9\n"


def _extends_diamond(n: int = 40) -> str:
    items = ["- config: c0\n  flags: {x: 1}"]
    for i in range(1, n):
        items.append(f"- config: c{i}\n  extends: [c{i - 1}, c{i - 1}b]\n- config: c{i}b\n  extends: c{i - 1}")
    items[1:1] = ["- config: c0b\n  flags: {y: 2}"]
    items.append(f"- model: m\n  extends: c{n - 1}\n  operations:\n    op: {{main: train}}")
    return "\n".join(items) + "\n"


def _flags_include_diamond(n: int = 40) -> str:
    items = ["- config: f0\n  flags: {x: 1}"]
    for i in range(1, n):
        items.append(f"- config: f{i}\n  flags:\n    $include: [f{i - 1}, f{i - 1}]")
    items.append(f"- model: m\n  operations:\n    op:\n      main: train\n      flags:\n        $include: f{n - 1}")
    return "\n".join(items) + "\n"


CASES = {
    "alias bomb": (_alias_bomb(), "expands to more than"),
    "deep nesting": ("op:\n  main: train\n  flags:\n    x: " + "[" * 5000 + "]" * 5000 + "\n", "nests deeper"),
    "not utf-8": (b"op:\n  description: caf\xe9\n", "is not UTF-8 text"),
    "too big": ("# " + "x" * (1024 * 1024 + 10) + "\nop: {}\n", "is larger than"),
    "extends diamond": (_extends_diamond(), None),  # resolved once each: fine, and fast
    "flags $include diamond": (_flags_include_diamond(), None),
    "catastrophic select": ("op:\n  main: train\n  requires:\n    - file: data\n      select: '(a+)+$'\n",
                            "repeats a repeated group"),
    "catastrophic output-scalars": ("op:\n  main: train\n  output-scalars:\n    - '(a+)+$'\n",
                                    "repeats a repeated group"),
}


def _write(project, text) -> None:
    path = project / "guild.yml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_guild_yml_one_line_fast(project, name):
    text, line = CASES[name]
    _write(project, text)
    write(project / "train.py", f"print({'a' * 40 + 'b'!r})\n")
    write(project / "data" / ("a" * 40 + "b"), "x\n")
    t0 = time.perf_counter()
    try:
        guildfile.load(project / "guild.yml").script("op" if "diamond" not in name else "m:op")
        error = None
    except UsageError as e:
        error = str(e)
    assert time.perf_counter() - t0 < 1.0, name
    if name.startswith("catastrophic"):  # refused when the run is prepared, before it is made
        assert error is None
        r = cli("run", "-y", "op", timeout=30)
    else:
        assert (error is None) == (line is None), error
        if line:
            assert line in error
        r = cli("ops", timeout=30)
    if line:
        assert r.returncode == 2, r.stderr
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and line in err[0], r.stderr
        assert runs_in(project / ".guild") == []
    else:
        assert r.returncode == 0, r.stderr


def test_include_diamond_is_capped(project):
    for i in range(20):
        write(project / f"i{i}.yml", f"- include: [i{i + 1}.yml, i{i + 1}.yml]\n" if i < 19 else "- config: leaf\n")
    write(project / "guild.yml", "- include: i0.yml\n- model: m\n  operations:\n    op: {main: train}\n")
    t0 = time.perf_counter()
    with pytest.raises(UsageError, match="expand to more than"):
        guildfile.load(project / "guild.yml")
    assert time.perf_counter() - t0 < 1.0


def test_ordinary_anchors_are_allowed(project):
    write(project / "guild.yml", """
        - config: shared
          flags: &common
            lr: 0.1
            epochs: 5
        - model: m
          operations:
            train:
              main: train
              flags:
                <<: *common
                batch: 32
            test:
              main: train
              flags: *common
        """)
    write(project / "train.py", "lr = 0.0\nepochs = 1\nbatch = 1\n")
    gf = guildfile.load(project / "guild.yml")
    assert {k: fd.default for k, fd in gf.script("m:train").flags.items()} == {"lr": 0.1, "epochs": 5, "batch": 32}


def test_symlink_loop_in_project_is_skipped(project):
    write(project / "train.py", "print('ran')\n")
    os.symlink("loop", project / "loop")
    r = cli("run", "-y", "train.py")
    assert r.returncode == 0 and "ran" in r.stdout, r.stderr
    r = cli("run", "train.py", "--test-sourcecode")
    assert "loop  a link that leads nowhere (broken, or a loop)" in r.stdout


def test_newline_in_operation_name_is_no_new_line(project):
    write(project / "guild.yml", '"good\\nforged   a line": {exec: "true"}\nother: {exec: "true"}\n')
    r = cli("ops")
    assert r.returncode == 0 and r.stdout.splitlines() == ["good\\nforged   a line", "other"]
    r = cli("run", "-y", "no\nsuch")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "no operation 'no\\nsuch'" in r.stderr


def test_exec_flag_value_is_one_argument(project):
    write(project / "guild.yml", """
        echo:
          exec: ${python_exe} -c "import sys; print(sys.argv[1:])" ${msg}
          flags:
            msg: hi
        """)
    r = cli("run", "-y", "echo", "msg=a --evil b")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "['a --evil b']"
