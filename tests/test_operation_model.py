"""One operation model, two sources: a script's ``#|`` front matter is an operation, read and
checked by the same code as an operation of a guild.yml (``runyard.opdef``).

Real scripts (Python and R) run through the real CLI: ``requires`` resolves file and operation
dependencies before the run is made, ``objective`` and ``default-max-trials`` shape a batch, and
the same mistake gives the same line from either source.
"""

from __future__ import annotations

import pytest
import yaml

from conftest import cli, runs_in, write


def _attr(run, name):
    p = run / ".guild" / "attrs" / name
    return yaml.safe_load(p.read_text()) if p.exists() else None


def _latest(project):
    return max(runs_in(project / ".guild"), key=lambda d: _attr(d, "started") or 0)


def test_python_front_matter_requires_files_and_runs(project):
    write(project / "data" / "rows.csv", "1,2\n")
    write(project / "prepare.py", "open('out.txt', 'w').write('prepared')\n")
    write(project / "train.py", """
        #| requires:
        #|   - file: data/rows.csv
        #|   - operation: prepare.py
        #|     select: out.txt
        print(open('rows.csv').read().strip(), open('out.txt').read())
        """)
    r = cli("run", "-y", "train.py")
    assert r.returncode == 1 and r.stderr.strip() == (
        "runyard: missing dependency operation:prepare.py of train.py: no completed run of operation prepare.py")
    assert runs_in(project / ".guild") == []  # nothing made
    assert cli("run", "-y", "prepare.py").returncode == 0
    prep = _latest(project)
    r = cli("run", "-y", "train.py")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1,2 prepared"
    run = _latest(project)
    assert _attr(run, "flags") == {"operation:prepare.py": prep.name}
    deps = _attr(run, "deps")
    assert deps["operation:prepare.py"]["operation:prepare.py"]["config"] == prep.name
    assert deps["file:data/rows.csv"]["file:data/rows.csv"]["uri"] == "file:data/rows.csv"
    manifest = (run / ".guild" / "manifest").read_text().splitlines()
    assert any(line.startswith("d rows.csv ") for line in manifest)
    assert not any(line.startswith("s data/rows.csv ") for line in manifest)  # the dependency, not source
    r = cli("run", "train.py", "--help-op")
    assert "operation:prepare.py" in r.stdout and "()" not in r.stdout


def test_r_front_matter_requires_a_file(project):
    write(project / "data" / "rows.csv", "1,2\n")
    write(project / "fit.R", """
        #| requires:
        #|   - file: data/rows.csv
        x <- 1
        cat(readLines("rows.csv"), "\\n")
        """)
    r = cli("run", "-y", "fit.R")
    assert r.returncode == 0, r.stderr
    assert "1,2" in r.stdout
    assert _attr(_latest(project), "deps") == {"file:data/rows.csv": {"file:data/rows.csv": {
        "paths": ["../../../data/rows.csv"], "uri": "file:data/rows.csv"}}}
    (project / "data" / "rows.csv").unlink()
    r = cli("run", "-y", "fit.R")
    assert r.returncode == 1 and r.stderr.strip().startswith("runyard: missing dependency file:data/rows.csv of fit.R")


@pytest.mark.parametrize("key, value, line", [
    ("requires", "[{url: 'https://example.com/x.zip'}]",
     "source type 'url' in requires of {what} is not supported by runyard (file: and operation: sources are)"),
    ("plugins", "[summary]", "uses 'plugins': Guild plugins are not supported by runyard"),
    ("objective", "{best: loss}", "objective of {what} must be a scalar name, -NAME, {{minimize: NAME}} or "
                                  "{{maximize: NAME}}"),
    ("default-max-trials", "0", "default-max-trials of {what} must be a whole number of at least 1"),
])
def test_front_matter_and_guild_yml_are_checked_by_the_same_code(project, key, value, line):
    write(project / "train.py", f"#| {key}: {value}\nx = 1\n")
    write(project / "guild.yml", f"op:\n  main: train\n  {key}: {value}\n")
    by_script = cli("run", "-y", "train.py")
    by_op = cli("run", "-y", "op")
    assert by_script.returncode == by_op.returncode == 2
    assert line.format(what="the front matter") in by_script.stderr, by_script.stderr
    assert line.format(what="op").replace("of op", "of operation 'op'") in by_op.stderr \
        or line.format(what="op") in by_op.stderr, by_op.stderr
    assert len(by_script.stderr.strip().splitlines()) == 1 and len(by_op.stderr.strip().splitlines()) == 1
    assert runs_in(project / ".guild") == []


def test_objective_and_default_max_trials_shape_a_batch(project):
    write(project / "train.py", """
        #| objective: -acc
        #| default-max-trials: 2
        x = 0.5
        print('acc: %s' % x)
        """)
    r = cli("run", "-y", "train.py", "x=uniform[0:1]")
    assert r.returncode == 0, r.stderr
    runs = runs_in(project / ".guild")
    batch = [d for d in runs if _attr(d, "objective")]
    assert len(batch) == 1 and _attr(batch[0], "objective") == "-acc" and _attr(batch[0], "max_trials") == 2
    assert len(runs) == 3  # the batch and its two trials


def test_front_matter_env_reaches_the_script(project):
    write(project / "train.py", """
        #| env:
        #|   MODE: fast-${lr}
        import os
        lr = 0.1
        print(os.environ["MODE"])
        """)
    r = cli("run", "-y", "train.py", "lr=0.2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "fast-0.2"
