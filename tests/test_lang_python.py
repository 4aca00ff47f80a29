"""Python scripts: flag detection, rewriting a run's copy, the command and its headless matplotlib."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runyard.errors import UsageError
from runyard.lang import python as py


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project directory that is also the cwd."""
    d = tmp_path / "project"
    d.mkdir()
    monkeypatch.chdir(d)
    return d


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def defaults(script) -> dict:
    return {name: fd.default for name, fd in script.flags.items()}


def make_run_dir(project: Path, tmp_path: Path) -> Path:
    """A run directory holding a copy of the project's files (what the launcher snapshots)."""
    run_dir = tmp_path / "run"
    shutil.copytree(project, run_dir)
    return run_dir


def run_command(script, run_dir: Path, values: dict) -> subprocess.CompletedProcess:
    argv, env = py.command(script, run_dir, values)
    return subprocess.run(
        argv, cwd=run_dir, env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


# ---------------------------------------------------------------------------
# Detection


def test_scalar_literals_are_flags_in_order(project):
    write(project / "train.py", """
        import math
        i = 3
        f = 0.5
        s = "relu"
        b = True
        neg = -1.5
        pos = +2
        n: int = 4
        lr: float = 1
        """)
    s = py.inspect(project / "train.py")
    assert s.language == "python" and s.flags_dest == "globals"
    assert list(s.flags) == ["i", "f", "s", "b", "neg", "pos", "n", "lr"]
    assert defaults(s) == {"i": 3, "f": 0.5, "s": "relu", "b": True, "neg": -1.5, "pos": 2, "n": 4, "lr": 1}
    types = {k: fd.type for k, fd in s.flags.items()}
    assert types == {"i": "int", "f": "number", "s": "string", "b": "boolean",
                     "neg": "number", "pos": "int", "n": "int", "lr": "float"}


def test_non_flags_are_skipped(project):
    write(project / "train.py", """
        import os
        _private = 1
        __version__ = "1.0"
        none = None
        items = [1, 2]
        table = {"a": 1}
        call = int("3")
        name = os.sep
        fstr = f"{name}"
        expr = 1 + 2
        a = b = 5
        x, y = 1, 2
        raw = b"bytes"
        cx = 2j
        def f():
            inner = 1
        if True:
            nested = 2
        class C:
            attr = 3
        kept = 7
        """)
    s = py.inspect(project / "train.py")
    assert list(s.flags) == ["kept"]


def test_first_literal_assignment_wins(project):
    write(project / "train.py", """
        epochs = 10
        epochs = 20
        mode = None
        mode = "fast"
        """)
    s = py.inspect(project / "train.py")
    assert defaults(s) == {"epochs": 10, "mode": "fast"}


def test_annotations_and_front_matter(project):
    write(project / "train.py", """
        #!/usr/bin/env python
        #| description: Train a model
        #| label: baseline
        #| tags: [a, b]
        #| output-scalars: {loss: 'loss=(\\value)'}
        #| sourcecode: {select: ['*.py']}
        units = 32
        #| description: Activation function.
        #| choices: [relu, tanh]
        activation = "relu"

        #| description: Dropout rate
        #| min: 0
        #| max: 1
        dropout = 0.2  # a comment
        #| type: int
        #| required: true
        seed = 1.0
        """)
    s = py.inspect(project / "train.py")
    assert s.options == {
        "description": "Train a model", "label": "baseline", "tags": ["a", "b"],
        "output-scalars": {"loss": "loss=(\\value)"}, "sourcecode": {"select": ["*.py"]},
    }
    # A flag right under the front matter does not take the front matter as its annotation.
    assert s.flags["units"].description == "" and s.flags["units"].default == 32
    act = s.flags["activation"]
    assert act.description == "Activation function." and act.choices == ["relu", "tanh"]
    d = s.flags["dropout"]
    assert (d.description, d.min, d.max, d.default) == ("Dropout rate", 0, 1, 0.2)
    seed = s.flags["seed"]
    assert seed.type == "int" and seed.required is True


def test_front_matter_without_shebang_and_blank_line_breaks_annotation(project):
    write(project / "train.py", """
        #| description: op
        x = 1
        #| description: not above y

        y = 2
        """)
    s = py.inspect(project / "train.py")
    assert s.options == {"description": "op"}
    assert s.flags["x"].description == "" and s.flags["y"].description == ""


def test_syntax_error_is_one_usage_line(project):
    write(project / "train.py", "x = 1\ny = (\n\ndef\n")
    with pytest.raises(UsageError) as e:
        py.inspect(project / "train.py")
    msg = str(e.value)
    assert msg == "cannot read flags of train.py: '(' was never closed (line 2)"  # Python's own message
    assert "\n" not in msg


def test_bad_annotation_yaml_is_a_usage_error(project):
    write(project / "train.py", """
        #| description: [unclosed
        x = 1
        """)
    with pytest.raises(UsageError, match="invalid '#|' annotation"):
        py.inspect(project / "train.py")


def test_inspect_is_fast_and_does_not_load_yaml(project):
    body = ["import math", '"""A script."""']
    for i in range(100):
        body += [f"x{i} = {i * 0.5}", f"print(math.sqrt(x{i}) + {i})"]
    write(project / "big.py", "\n".join(body) + "\n")
    code = textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from runyard.lang import python as py
        before = "yaml" in sys.modules
        t = time.perf_counter()
        for _ in range(10):
            s = py.inspect(Path("big.py"))
        ms = (time.perf_counter() - t) * 100
        print(len(s.flags), before or "yaml" not in sys.modules, ms)
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    n, lazy, ms = out.split()
    assert n == "100" and lazy == "True"
    assert float(ms) < 50, f"inspect took {ms} ms"


# ---------------------------------------------------------------------------
# Rewriting


SOURCE = '''\
#!/usr/bin/env python
"""Doc."""
import sys

i = 3
f = 0.5  # learning rate
s = "relu"
b = True
neg = -1.5
a = 1; c = 'x'  # two on a line
multi = """line one
line two
line three"""; after = 9
n: int = 4
u = "é"; v = 1
i = 100
print(repr((i, f, s, b, neg, a, c, multi, after, n, u, v)))
'''


def run_source(text: str, tmp_path: Path) -> tuple:
    p = tmp_path / "rewritten.py"
    p.write_text(text)
    out = subprocess.run([sys.executable, str(p)], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out)


def test_rewrite_each_literal_keeps_lines_and_comments(tmp_path):
    values = {"i": 7, "f": 1e-3, "s": "tanh's", "b": False, "neg": 2, "a": -3, "c": "y",
              "multi": "one\nline", "after": 10, "n": -5, "u": "ü", "v": 2.5}
    out = py.rewrite(SOURCE, values)
    compile(out, "rewritten.py", "exec")
    assert out.count("\n") == SOURCE.count("\n")
    lines = out.splitlines()
    assert lines[5] == "f = 0.001  # learning rate"
    assert lines[8] == "neg = 2"
    assert lines[9] == "a = -3; c = 'y'  # two on a line"
    assert lines[14] == "u = 'ü'; v = 2.5"
    assert lines[15] == "i = 100"  # only the first assignment is the flag
    # The script sees the new values (the second `i = 100` still runs after).
    assert run_source(out, tmp_path) == (100, 0.001, "tanh's", False, 2, -3, "y", "one\nline", 10, -5, "ü", 2.5)


def test_rewrite_signed_literals():
    assert py.rewrite("x = -1.5\n", {"x": 2}) == "x = 2\n"
    assert py.rewrite("x = -1.5\n", {"x": -3}) == "x = -3\n"
    assert py.rewrite("x = +1\n", {"x": -0.25}) == "x = -0.25\n"
    assert py.rewrite("x = 1\n", {"x": float("inf")}) == "x = float('inf')\n"


def test_rewrite_leaves_defaults_and_unknown_names_alone():
    src = "x = 1.0   # keep  \ny = 'a'\r\nz = -2\n"
    assert py.rewrite(src, {"x": 1.0, "y": "a", "z": -2, "other": 5, "_p": 1}) == src
    assert py.rewrite(src, {}) == src
    # Same value of another type is a change: 1 is not 1.0, 1 is not True.
    assert py.rewrite("x = 1.0\n", {"x": 1}) == "x = 1\n"
    assert py.rewrite("x = 1\n", {"x": True}) == "x = True\n"
    # Line endings are kept.
    assert py.rewrite(src, {"y": "b"}) == "x = 1.0   # keep  \ny = 'b'\r\nz = -2\n"


def test_rewrite_multiline_literal_in_parentheses():
    src = 'x = ("abc"\n     "def")  # c\ny = 1\n'
    out = py.rewrite(src, {"x": "new"})
    assert out.count("\n") == src.count("\n")
    ns: dict = {}
    exec(compile(out, "t", "exec"), ns)
    assert ns["x"] == "new" and ns["y"] == 1


def test_apply_flags_rewrites_the_run_copy_only(project, tmp_path):
    write(project / "src" / "train.py", """
        lr = 0.1
        epochs = 5
        print(lr, epochs)
        """)
    original = (project / "src" / "train.py").read_bytes()
    s = py.inspect(project / "src" / "train.py")
    assert s.relpath == "src/train.py"
    run_dir = make_run_dir(project, tmp_path)
    values = {"lr": 0.01, "epochs": 5}
    py.apply_flags(s, run_dir, values)
    assert (project / "src" / "train.py").read_bytes() == original
    assert (run_dir / "src" / "train.py").read_text().splitlines()[:2] == ["lr = 0.01", "epochs = 5"]
    r = run_command(s, run_dir, values)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0.01", "5"]


def test_apply_flags_with_all_defaults_leaves_copy_identical(project, tmp_path):
    write(project / "train.py", "a = 1; b = 'x'  # hi\n")
    s = py.inspect(project / "train.py")
    run_dir = make_run_dir(project, tmp_path)
    before = (run_dir / "train.py").stat().st_mtime_ns
    py.apply_flags(s, run_dir, defaults(s))
    assert (run_dir / "train.py").read_text() == "a = 1; b = 'x'  # hi\n"
    assert (run_dir / "train.py").stat().st_mtime_ns == before


# ---------------------------------------------------------------------------
# flags-dest files


def test_flags_dest_python_file(project, tmp_path):
    write(project / "flags.py", """
        # Flags of train.py
        #| description: Units
        units = 32
        act = "relu"
        """)
    write(project / "train.py", """
        #| flags-dest: ./flags.py
        import flags
        units = 999
        print(flags.units, flags.act)
        """)
    s = py.inspect(project / "train.py")
    assert s.flags_dest == "flags.py"
    assert defaults(s) == {"units": 32, "act": "relu"}
    assert s.flags["units"].description == "Units"
    run_dir = make_run_dir(project, tmp_path)
    py.apply_flags(s, run_dir, {"units": 64, "act": "relu"})
    assert (run_dir / "train.py").read_text() == (project / "train.py").read_text()
    assert "units = 64" in (run_dir / "flags.py").read_text()
    assert "units = 32" in (project / "flags.py").read_text()
    r = run_command(s, run_dir, {"units": 64, "act": "relu"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["64", "relu"]


@pytest.mark.parametrize("name", ["flags.yml", "flags.json"])
def test_flags_dest_config_file(project, tmp_path, name):
    data = {"i": 123, "f": 1.5, "s": "Howdy", "b": False, "model": {"layers": 2}}
    if name.endswith(".json"):
        (project / name).write_text(json.dumps(data))
    else:
        (project / name).write_text("i: 123\nf: 1.5\ns: Howdy\nb: no\nmodel:\n  layers: 2\n")
    original = (project / name).read_text()
    write(project / "train.py", f"""
        #| flags-dest: config:{name}
        print(open("{name}").read())
        """)
    s = py.inspect(project / "train.py")
    assert s.flags_dest == name
    assert defaults(s) == {"i": 123, "f": 1.5, "s": "Howdy", "b": False, "model.layers": 2}
    run_dir = make_run_dir(project, tmp_path)
    # Defaults: the copy is not rewritten at all.
    py.apply_flags(s, run_dir, defaults(s))
    assert (run_dir / name).read_text() == original
    py.apply_flags(s, run_dir, {**defaults(s), "b": True, "model.layers": 4})
    assert (project / name).read_text() == original
    from runyard.flags.dest import read_flags

    assert read_flags(run_dir / name) == {"i": 123, "f": 1.5, "s": "Howdy", "b": True, "model.layers": 4}


def test_flags_dest_errors(project):
    write(project / "a.py", "#| flags-dest: ./missing.yml\nx = 1\n")
    with pytest.raises(UsageError, match="missing.yml .*not found"):
        py.inspect(project / "a.py")
    write(project / "b.py", "#| flags-dest: global:params\nx = 1\n")
    with pytest.raises(UsageError, match="unsupported flags-dest 'global:params'"):
        py.inspect(project / "b.py")
    write(project / "c.py", "#| flags-dest: ../outside.yml\nx = 1\n")
    with pytest.raises(UsageError, match="inside the project"):
        py.inspect(project / "c.py")


def test_flags_dest_self_and_globals_and_args(project):
    write(project / "train.py", "#| flags-dest: ./train.py\nimport argparse\nx = 1\n")
    s = py.inspect(project / "train.py")
    assert s.flags_dest == "globals" and defaults(s) == {"x": 1}
    write(project / "t2.py", """
        #| flags-dest: globals
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--lr", type=float, default=0.1)
        x = 1
        """)
    s = py.inspect(project / "t2.py")
    assert s.flags_dest == "globals" and defaults(s) == {"x": 1}


# ---------------------------------------------------------------------------
# argparse


ARGPARSE_SCRIPT = """
    import argparse
    import json
    import os

    not_a_flag = 3

    def main():
        parser = argparse.ArgumentParser()
        #| min: 0
        parser.add_argument("--learning-rate", "-l", type=float, default=0.1, help="Learning rate. ")
        parser.add_argument("--epochs", type=int, default="5", choices=[5, 10, 20])
        parser.add_argument("-n", type=int, required=True)
        parser.add_argument("--verbose", action="store_true", help="Talk more")
        parser.add_argument("--no-cuda", dest="cuda", action="store_false")
        parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True)
        parser.add_argument("--layers", nargs="+", type=int, default=[8, 4])
        parser.add_argument("--name", default="x")
        parser.add_argument("--shuffle", type=bool, default=True)
        parser.add_argument("--out", default=os.getcwd())
        parser.add_argument("-v", action="count", default=0)
        parser.set_defaults(name="model")
        args = parser.parse_args()
        print(json.dumps(vars(args)))

    if __name__ == "__main__":
        main()
    """


def test_argparse_flags_found_statically(project):
    write(project / "train.py", textwrap.dedent(ARGPARSE_SCRIPT) + "\nopen('EXECUTED', 'w')\n")
    s = py.inspect(project / "train.py")
    assert not (project / "EXECUTED").exists()
    assert s.flags_dest == "args"
    assert list(s.flags) == ["learning_rate", "epochs", "n", "verbose", "cuda", "augment",
                             "layers", "name", "shuffle", "out"]
    lr = s.flags["learning_rate"]
    assert (lr.default, lr.type, lr.description, lr.min) == (0.1, "float", "Learning rate.", 0)
    assert lr.extra["arg-name"] == "--learning-rate"
    ep = s.flags["epochs"]
    assert (ep.default, ep.type, ep.choices) == (5, "int", [5, 10, 20])
    n = s.flags["n"]
    assert (n.default, n.required, n.extra["arg-name"]) == (None, True, "-n")
    v = s.flags["verbose"]
    assert (v.default, v.type, v.description, v.extra["arg-switch"]) == (False, "boolean", "Talk more", True)
    c = s.flags["cuda"]
    assert (c.default, c.extra) == (True, {"arg-name": "--no-cuda", "arg-switch": False})
    assert s.flags["augment"].default is True
    assert s.flags["layers"].default == "8 4"
    assert s.flags["name"].default == "model"
    assert s.flags["out"].default is None  # computed at run time


def test_argparse_argv_reaches_the_script(project, tmp_path):
    write(project / "train.py", ARGPARSE_SCRIPT)
    s = py.inspect(project / "train.py")
    run_dir = make_run_dir(project, tmp_path)
    values = {**defaults(s), "learning_rate": -0.5, "n": 4, "verbose": True, "cuda": False,
              "augment": False, "layers": "1 2 3", "name": "my model", "shuffle": False}
    argv, env = py.command(s, run_dir, values)
    assert argv[:2] == [sys.executable, "train.py"]
    assert argv[2:] == ["--learning-rate=-0.5", "--epochs", "5", "-n", "4", "--verbose", "--no-cuda",
                        "--no-augment", "--layers", "1", "2", "3", "--name", "my model", "--shuffle", ""]
    py.apply_flags(s, run_dir, values)  # nothing to write for args
    assert (run_dir / "train.py").read_text() == (project / "train.py").read_text()
    r = run_command(s, run_dir, values)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got == {"learning_rate": -0.5, "epochs": 5, "n": 4, "verbose": True, "cuda": False,
                   "augment": False, "layers": [1, 2, 3], "name": "my model", "shuffle": False,
                   "out": str(run_dir), "v": 0}


def test_argparse_switches_at_default_are_not_passed(project):
    write(project / "train.py", ARGPARSE_SCRIPT)
    s = py.inspect(project / "train.py")
    argv, _ = py.command(s, project, {**defaults(s), "n": 1})
    assert "--verbose" not in argv and "--no-cuda" not in argv and "--out" not in argv
    assert argv[2:] == ["--learning-rate", "0.1", "--epochs", "5", "-n", "1", "--augment",
                        "--layers", "8", "4", "--name", "model", "--shuffle", "1"]


def test_argparse_import_without_add_argument_uses_globals(project):
    write(project / "train.py", "import argparse\nlr = 0.1\n")
    s = py.inspect(project / "train.py")
    assert s.flags_dest == "globals" and defaults(s) == {"lr": 0.1}
    argv, _ = py.command(s, project, {"lr": 0.2})
    assert argv == [sys.executable, "train.py"]


# ---------------------------------------------------------------------------
# The command: headless matplotlib


def test_command_env_keeps_existing_pythonpath(project, monkeypatch):
    write(project / "train.py", "x = 1\n")
    s = py.inspect(project / "train.py")
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    argv, env = py.command(s, project, {"x": 1})
    parts = env["PYTHONPATH"].split(os.pathsep)
    assert parts[1:] == ["/somewhere/else"]
    assert (Path(parts[0]) / "runyard_mpl_backend.py").is_file()
    assert env["MPLBACKEND"] == "module://runyard_mpl_backend"


def test_matplotlib_show_saves_numbered_figures(project, tmp_path):
    pytest.importorskip("matplotlib")
    write(project / "plot.py", """
        import matplotlib.pyplot as plt

        n = 3
        plt.plot(range(n))
        plt.show()
        plt.figure()
        plt.plot([3, 1, 2])
        plt.show()
        plt.show()  # nothing open: no file
        print("done", plt.get_fignums())
        """)
    s = py.inspect(project / "plot.py")
    run_dir = make_run_dir(project, tmp_path)
    py.apply_flags(s, run_dir, {"n": 5})
    r = run_command(s, run_dir, {"n": 5})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "done []"
    plots = sorted(p.name for p in (run_dir / "plots").iterdir())
    assert plots == ["Figure001.png", "Figure002.png"]
    for name in plots:
        assert (run_dir / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (project / "plots").exists()


def test_rewrite_file_in_legacy_encoding(project, tmp_path):
    text = "# -*- coding: latin-1 -*-\nname = 'café'\n"
    (project / "train.py").write_bytes(text.encode("latin-1"))
    s = py.inspect(project / "train.py")
    assert defaults(s) == {"name": "café"}
    run_dir = make_run_dir(project, tmp_path)
    py.apply_flags(s, run_dir, {"name": "€ and é"})
    out = (run_dir / "train.py").read_bytes().decode("latin-1")
    ns: dict = {}
    exec(compile(out, "train.py", "exec"), ns)
    assert ns["name"] == "€ and é"
    assert out.count("\n") == text.count("\n")


def test_rewrite_refuses_values_that_are_not_plain():
    with pytest.raises(UsageError, match="cannot write flag 'x'"):
        py.rewrite("x = 1\n", {"x": object()})
