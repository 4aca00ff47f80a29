"""guild.yml operations through the CLI: one test per supported key (and the refused ones)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from conftest import cli, runs_in, write
from runyard.store.attrs import read as read_attr


def _attr(run_dir: Path, name: str):
    p = run_dir / ".guild" / "attrs" / name
    return read_attr(p) if p.exists() else None


def _ok(*args, **kw):
    r = cli(*args, **kw)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r


def _only_run(project: Path) -> Path:
    runs = runs_in(project / ".guild")
    assert len(runs) == 1, runs
    return runs[0]


def _latest(project: Path) -> Path:
    return max(runs_in(project / ".guild"), key=lambda d: _attr(d, "started") or 0)


def test_top_level_ops_run_list_and_help(project):
    write(project / "guild.yml", """
    train:
      description: Train a model
      main: train
      flags:
        lr:
          default: 0.1
          description: Learning rate
          min: 0.0
          max: 1.0
        opt:
          default: sgd
          choices: [sgd, adam]
        epochs:
          type: int
          required: yes
    other:
      exec: ${python_exe} -c "print('other')"
    """)
    write(project / "train.py", """
    import os, sys
    lr = 0.5
    opt = "sgd"
    print("lr=%s opt=%s" % (lr, opt), sys.argv[1:], os.environ["FLAG_EPOCHS"])
    """)
    r = _ok("ops")
    assert r.stdout.splitlines() == ["other", "train  Train a model"]
    r = _ok("run", "train", "--help-op")
    assert "Train a model" in r.stdout
    assert "Learning rate (default is 0.1; range 0.0..1.0)" in r.stdout
    assert "choices: sgd, adam" in r.stdout and "epochs" in r.stdout and "required" in r.stdout
    r = cli("run", "-y", "train")
    assert r.returncode == 2 and "missing required flag 'epochs'" in r.stderr
    r = cli("run", "-y", "train", "epochs=2", "lr=2")
    assert r.returncode == 2 and "greater than the maximum 1.0" in r.stderr
    r = cli("run", "-y", "train", "epochs=2", "opt=rmsprop")
    assert r.returncode == 2 and "not one of: sgd, adam" in r.stderr
    r = cli("run", "-y", "train", "epochs=x")
    assert r.returncode == 2 and "not an integer" in r.stderr
    assert runs_in(project / ".guild") == []  # nothing made for bad input
    r = _ok("run", "-y", "train", "epochs=2")
    # the guild.yml default wins over the script's; globals get no arguments (as in Guild); a flag
    # the script does not assign reaches it in the environment
    assert "lr=0.1 opt=sgd [] 2" in r.stdout
    run = _only_run(project)
    assert (run / ".guild" / "opref").read_text().startswith(f"guildfile:{project / 'guild.yml'} ")
    assert _attr(run, "flags") == {"lr": 0.1, "opt": "sgd", "epochs": 2}
    assert "\nlr = 0.5\n" in (project / "train.py").read_text()  # the project is untouched
    r = _ok("run", "-y", "other")
    assert r.stdout.strip() == "other"
    r = cli("run", "-y", "nosuch")
    assert r.returncode == 2 and r.stderr.strip() == (
        "runyard: no operation 'nosuch' in guild.yml (its operations: train, other)")


def test_models_default_model_and_default_op(project):
    write(project / "guild.yml", """
    - model: a
      operations:
        train:
          main: train
          flags: {x: 1}
    - model: b
      default: yes
      operations:
        train:
          main: train
          flags: {x: 2}
        eval:
          default: yes
          main: train
          flags: {x: 3}
    """)
    write(project / "train.py", "x = 0\nprint('x=%s' % x)\n")
    assert _ok("run", "-y", "a:train").stdout.strip() == "x=1"
    assert _ok("run", "-y", "train").stdout.strip() == "x=2"  # the default model's
    assert _ok("run", "-y").stdout.strip() == "x=3"  # no operation: the default one
    assert _ok("run", "-y", "x=5").stdout.strip() == "x=5"
    r = _ok("runs")
    assert "b:eval" in r.stdout and "a:train" in r.stdout


def test_main_args_flag_refs_arg_name_switch_skip_and_null_label(project):
    write(project / "guild.yml", """
    train:
      main: train --mode ${mode} fixed
      flags-dest: args
      flags:
        mode:
          default: fast
          arg-skip: yes
        rate:
          default: 0.5
          arg-name: learning-rate
        verbose:
          default: no
          arg-switch: yes
        seed:
          default: null
          null-label: random
    """)
    write(project / "train.py", "import sys\nprint(sys.argv[1:])\n")
    r = _ok("run", "-y", "train", "verbose=yes")
    assert r.stdout.strip() == "['--mode', 'fast', 'fixed', '--learning-rate', '0.5', '--verbose']"
    run = _only_run(project)
    assert _attr(run, "label") == "mode=fast rate=0.5 seed=random verbose=yes"
    assert re.search(r"seed +\(default is random\)", _ok("run", "train", "--help-op").stdout)


def test_exec_with_flag_args_and_env(project):
    write(project / "guild.yml", """
    hello:
      exec: ${python_exe} hello.py ${flag_args}
      flags:
        name:
          default: world
          env-name: WHO
        data:
          type: existing-path
      env:
        GREETING: hi-${name}
      tags: [demo]
      label: greet ${name}
    """)
    write(project / "hello.py", "import os, sys\nprint(os.environ['GREETING'], sys.argv[1:], os.environ['WHO'])\n")
    r = _ok("run", "-y", "hello", "name=you")
    assert r.stdout.strip() == "hi-you ['--name', 'you'] you"
    run = _only_run(project)
    assert _attr(run, "tags") == ["demo"] and _attr(run, "label") == "greet you"
    r = cli("run", "-y", "hello", "data=nowhere.csv")
    assert r.returncode == 2 and r.stderr.strip() == "runyard: invalid value for flag 'data': path 'nowhere.csv' does not exist"
    assert len(runs_in(project / ".guild")) == 1


def test_flags_import_list_and_skip(project):
    write(project / "guild.yml", """
    a:
      main: train
      flags-import: [lr]
    b:
      main: train
      flags-import: all
      flags-import-skip: [lr]
    c:
      main: train
      flags:
        lr: 0.3
    """)
    write(project / "train.py", "lr = 0.1\nunits = 8\nprint(lr, units)\n")
    assert "lr" in _ok("run", "a", "--help-op").stdout and "units" not in _ok("run", "a", "--help-op").stdout
    out = _ok("run", "b", "--help-op").stdout
    assert "units" in out and "  lr" not in out
    out = _ok("run", "c", "--help-op").stdout  # no flags-import: only the flags guild.yml names
    assert "lr" in out and "units" not in out
    assert _ok("run", "-y", "a", "lr=0.2").stdout.strip() == "0.2 8"


def test_flags_dest_globals_global_dict_and_config_file(project):
    write(project / "guild.yml", """
    g:
      main: train
      flags-dest: globals
      flags-import: all
    d:
      main: params
      flags-dest: global:params
      flags-import: all
    c:
      main: conf
      flags-dest: config:settings.yml
      flags-import: all
    """)
    write(project / "train.py", "lr = 0.1\nprint('lr', lr)\n")
    write(project / "params.py", "params = {'lr': 0.1, 'model': {'units': 8}}\nprint(params)\n")
    write(project / "settings.yml", "lr: 0.1\nmodel:\n  units: 8\n")
    write(project / "conf.py", "print(open('settings.yml').read().split())\n")
    assert _ok("run", "-y", "g", "lr=0.5").stdout.strip() == "lr 0.5"
    assert _ok("run", "-y", "d", "lr=0.5", "model.units=16").stdout.strip() == \
        "{'lr': 0.5, 'model': {'units': 16}}"
    assert _ok("run", "-y", "c", "model.units=4").stdout.strip() == \
        "['lr:', '0.1', 'model:', 'units:', '4']"
    assert "units: 8" in (project / "settings.yml").read_text()


def test_sourcecode_select_exclude_and_root(project):
    write(project / "guild.yml", """
    train:
      main: train
      sourcecode:
        - exclude: notes
        - include: '*.bin'
    sub:
      main: job
      sourcecode:
        root: src
        select:
          - exclude: '*.md'
    """)
    write(project / "train.py", "print('ok')\n")
    write(project / "notes" / "n.txt", "x\n")
    (project / "w.bin").write_bytes(b"\x00\x01")
    write(project / "src" / "job.py", "import os\nprint(sorted(f for f in os.listdir('.') if f != '.guild'))\n")
    write(project / "src" / "README.md", "x\n")
    _ok("run", "-y", "train")
    run = _only_run(project)
    assert (run / "w.bin").exists() and not (run / "notes").exists() and (run / "train.py").exists()
    r = _ok("run", "-y", "sub")
    assert r.stdout.strip() == "['job.py']"


def test_output_scalars(project):
    write(project / "guild.yml", """
    train:
      main: train
      output-scalars:
        acc: 'accuracy (\\value)'
    """)
    write(project / "train.py", "print('accuracy 0.75')\nprint('loss: 3')\n")
    _ok("run", "-y", "train")
    r = _ok("runs", "info", "--json")
    sc = {s[0] if isinstance(s, list) else s: s for s in json.loads(r.stdout).get("scalars", [])}
    assert any("acc" in str(k) for k in sc) and not any("loss" in str(k) for k in sc)


def test_config_extends_and_include_and_params(project):
    write(project / "guild.yml", """
    - config: shared
      flags:
        lr: 0.1
        batch: 32
    - config: base
      operations:
        train:
          main: train
          flags:
            $include: shared
            units: '{{units}}'
    - model: m
      extends: base
      params:
        units: 64
      operations:
        train:
          flags:
            batch: 16
    """)
    write(project / "train.py", "lr = 0.0\nbatch = 0\nunits = 0\nprint(lr, batch, units)\n")
    assert _ok("run", "-y", "m:train").stdout.strip() == "0.1 16 64"


def test_include_file(project):
    write(project / "guild.yml", "- include: more.yml\n- model: m\n  operations:\n    a: {main: a}\n")
    write(project / "more.yml", "- model: extra\n  operations:\n    b: {main: a}\n")
    write(project / "a.py", "print('a')\n")
    assert _ok("ops").stdout.split() == ["extra:b", "m:a"]


def test_unsupported_keys_are_one_line(project):
    write(project / "guild.yml", """
    train:
      main: train
      optimizers: {gp: {}}
      frobnicate: 1
      flags:
        x:
          default: 1
          distribution: uniform
          wibble: 2
    nb:
      notebook: nb.ipynb
    url:
      main: train
      requires:
        - url: https://example.com/data.zip
    """)
    write(project / "train.py", "x = 0\nprint(x)\n")
    r = _ok("run", "-y", "train")
    err = [l for l in r.stderr.splitlines() if l]
    assert "runyard: guild.yml: 'optimizers' of operation 'train' is ignored (give --optimizer to runyard run)" in err
    assert "runyard: guild.yml: unknown key 'frobnicate' in operation 'train'; ignored" in err
    assert "runyard: guild.yml: flag attribute 'wibble' of train:x is not supported; ignored" in err
    r = cli("run", "-y", "nb")
    assert r.returncode == 2 and r.stderr.strip().endswith(
        "operation 'nb' uses 'notebook': notebook operations are not supported by runyard")
    r = cli("run", "-y", "url")
    assert r.returncode == 2 and "source type 'url' in requires of url is not supported" in r.stderr
    write(project / "guild.yml", "train: [oops\n")
    r = cli("ops")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "invalid YAML" in r.stderr


def _deps_project(project: Path) -> None:
    write(project / "guild.yml", """
    prepare:
      main: prepare
      requires:
        - file: data.csv
        - file: extra
          target-type: link
          target-path: linked
    train:
      main: train
      requires:
        - operation: prepare
          select: out\\.txt
    pipe:
      steps:
        - prepare
        - train
    badpipe:
      steps:
        - prepare
        - run: fail
        - train
    fail:
      exec: ${python_exe} -c "raise SystemExit(3)"
    """)
    write(project / "data.csv", "1,2\n")
    write(project / "extra" / "e.txt", "e\n")
    write(project / "prepare.py", "open('out.txt', 'w').write(open('data.csv').read())\n"
                                  "open('other.txt', 'w').write('x')\n")
    write(project / "train.py", "print('got', open('out.txt').read().strip())\n")


def test_file_and_operation_dependencies(project):
    _deps_project(project)
    r = cli("run", "-y", "train")
    assert r.returncode == 1 and r.stderr.strip() == (
        "runyard: missing dependency operation:prepare of train: no completed run of operation prepare")
    assert runs_in(project / ".guild") == []
    _ok("run", "-y", "prepare")
    first = _only_run(project)
    assert (first / "data.csv").read_text() == "1,2\n" and not (first / "data.csv").is_symlink()
    link = first / "linked" / "extra"  # a directory is one dependency, as in Guild (`d linked/extra`)
    assert link.is_symlink() and (link / "e.txt").read_text() == "e\n"
    assert "d linked/extra - file:extra" in (first / ".guild" / "manifest").read_text()
    deps = _attr(first, "deps")
    assert deps["file:data.csv"]["file:data.csv"]["uri"] == "file:data.csv"
    assert (first / os.path.relpath(project / "data.csv", first)).resolve() == (project / "data.csv").resolve()
    _ok("run", "-y", "prepare")
    second = _latest(project)
    r = _ok("run", "-y", "train")
    assert r.stdout.strip() == "got 1,2"
    t = _latest(project)
    assert not (t / "other.txt").exists()
    assert _attr(t, "deps") == {"operation:prepare": {"operation:prepare": {
        "config": second.name, "paths": [f"../{second.name}/out.txt"], "uri": "operation:prepare"}}}
    assert _attr(t, "flags")["operation:prepare"] == second.name
    _ok("run", "-y", "train", f"prepare={first.name[:6]}")  # a prefix chooses the run
    assert _attr(_latest(project), "flags")["operation:prepare"] == first.name
    r = cli("run", "-y", "train", "prepare=ffffffff")
    assert r.returncode == 1 and "no run 'ffffffff' of operation prepare" in r.stderr
    (project / "data.csv").unlink()
    n = len(runs_in(project / ".guild"))
    r = cli("run", "-y", "prepare")
    assert r.returncode == 1 and r.stderr.strip().startswith("runyard: missing dependency file:data.csv of prepare")
    assert len(runs_in(project / ".guild")) == n
    info = _ok("runs", "info", t.name[:8]).stdout
    assert "dependencies:" in info and f"operation:prepare: {second.name[:8]}" in info
    d = _ok("diff", "-D", t.name[:8], _latest(project).name[:8]).stdout
    assert f"-operation:prepare: run {second.name[:8]}" in d and f"+operation:prepare: run {first.name[:8]}" in d
    assert f"+operation:prepare: run {first.name[:8]}" in _ok("diff", t.name[:8], _latest(project).name[:8]).stdout


def test_pipeline_links_steps_and_failure(project):
    _deps_project(project)
    r = _ok("run", "-y", "pipe")
    assert "got 1,2" in r.stdout
    pipe = [d for d in runs_in(project / ".guild") if _attr(d, "steps")][0]
    assert sorted(p.name for p in pipe.iterdir() if p.name != ".guild") == ["prepare", "train"]
    assert all(os.readlink(pipe / s).startswith("../") for s in ("prepare", "train"))
    assert _attr(pipe / "train", "flags")["operation:prepare"] == os.readlink(pipe / "prepare")[3:]
    assert not any(p.is_file() for p in pipe.iterdir())  # no source code in a pipeline run
    r = cli("run", "-y", "badpipe")
    assert r.returncode == 1 and "step fail" in r.stderr
    bad = max((d for d in runs_in(project / ".guild") if _attr(d, "steps")), key=lambda d: _attr(d, "started"))
    assert _attr(bad, "exit_status") == 1 and not (bad / "train").exists()
    assert [l for l in _ok("runs").stdout.splitlines() if " fail " in l][0].split()[-1] == "error"
    info = _ok("runs", "info", pipe.name[:8]).stdout
    assert f"  prepare: {os.readlink(pipe / 'prepare')[3:11]} completed (prepare)" in info
    assert f"  train: {os.readlink(pipe / 'train')[3:11]} completed (train)" in info
    r = _ok("ls", pipe.name[:8])
    assert r.stdout.splitlines()[1:] == ["  prepare/", "  train/"]  # as guild ls shows them
    r = _ok("ls", "-L", pipe.name[:8])
    assert "  train/out.txt" in r.stdout.splitlines() and "  prepare/data.csv" in r.stdout.splitlines()


def test_guildfile_op_batch(project):
    write(project / "guild.yml", "train:\n  main: train\n  flags:\n    lr: 0.1\n")
    write(project / "train.py", "lr = 0.0\nprint('loss: %s' % lr)\n")
    _ok("run", "-y", "train", "lr=[0.1,0.2]")
    r = _ok("runs", "--include-batch")
    ops = [l.split()[1] for l in r.stdout.splitlines()]
    assert ops == ["train", "train", "train+"]
    assert sorted(_attr(d, "flags")["lr"] for d in runs_in(project / ".guild") if _attr(d, "flags").get("lr")
                  and not isinstance(_attr(d, "flags")["lr"], list)) == [0.1, 0.2]


def test_operation_defaults_resources_arg_split_optional_and_step_name_needed(project):
    write(project / "guild.yml", """
    - model: m
      operation-defaults:
        flags-dest: args
      resources:
        data:
          sources:
            - file: data.txt
      operations:
        prep:
          main: show
          flags:
            sizes:
              default: 1 2 3
              arg-split: yes
          requires:
            - data
            - file: absent.txt
              optional: yes
        pipe:
          steps:
            - run: prep
              name: first
            - run: prep
              name: again
              needed: yes
    """)
    write(project / "data.txt", "d\n")
    write(project / "show.py", "import os, sys\nprint(sys.argv[1:], sorted(f for f in os.listdir('.') "
                               "if f.endswith('.txt')))\n")
    r = _ok("run", "-y", "m:prep")
    assert r.stdout.strip() == "['--sizes', '1', '2', '3'] ['data.txt']"
    r = _ok("run", "-y", "m:pipe")
    assert "skipping again" in r.stdout
    pipe = [d for d in runs_in(project / ".guild") if _attr(d, "steps")][0]
    assert sorted(p.name for p in pipe.iterdir() if p.name != ".guild") == ["again", "first"]
    assert os.readlink(pipe / "again") == os.readlink(pipe / "first")  # the needed step reused the run


def test_export_import_keeps_or_copies_pipeline_links(project, tmp_path):
    _deps_project(project)
    _ok("run", "-y", "pipe")
    pipe = [d for d in runs_in(project / ".guild") if _attr(d, "steps")][0]
    for archive, extra in (("keep.zip", ()), ("keepdir", ()), ("copy.zip", ("--copy-links",))):
        _ok("export", "-y", str(tmp_path / archive), *extra)
        home = tmp_path / f"home-{archive}"
        _ok("import", "-y", str(tmp_path / archive), env={"GUILD_HOME": str(home)})
        got = home / "runs" / pipe.name
        assert sorted(p.name for p in got.iterdir()) == [".guild", "prepare", "train"], archive
        if extra:
            assert not (got / "train").is_symlink() and (got / "train" / "out.txt").read_text() == "1,2\n"
        else:
            assert os.readlink(got / "train") == os.readlink(pipe / "train"), archive
            assert (got / "train" / "out.txt").read_text() == "1,2\n"
            prep = home / "runs" / os.readlink(pipe / "prepare")[3:]
            link = prep / "linked" / "extra" / "e.txt"  # a linked project directory travels as files
            assert link.read_text() == "e\n" and not link.is_symlink()
        r = _ok("ls", "-L", pipe.name[:8], env={"GUILD_HOME": str(home)})
        assert "  train/out.txt" in r.stdout.splitlines()


def test_a_new_language_is_one_file(project, tmp_path):
    """Copy runyard, add lang/shell.py (SUFFIXES + the contract's functions): `runyard run x.sh` works."""
    import shutil

    import runyard

    pkg = tmp_path / "site" / "runyard"
    shutil.copytree(Path(runyard.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__", "static"))
    write(pkg / "lang" / "shell.py", '''
    """Shell scripts: flags are NAME=VALUE lines; values travel in the environment."""
    import re
    from pathlib import Path

    from ..flags import FlagDef
    from . import Script

    SUFFIXES = (".sh",)


    def inspect(path: Path) -> Script:
        text = Path(path).read_text()
        flags = {m.group(1): FlagDef.from_value(m.group(1), int(m.group(2)))
                 for m in re.finditer(r"^(\\w+)=(\\d+)$", text, re.M)}
        return Script(path=Path(path), language="shell", flags=flags)


    def apply_flags(script, run_dir, values):
        pass


    def command(script, run_dir, values):
        return ["sh", "-c", ". ./" + script.relpath], {k.upper(): str(v) for k, v in values.items()}
    ''')
    write(project / "hello.sh", "n=1\nn=${N:-$n}\necho \"n is $n\"\n")
    r = cli("run", "-y", "hello.sh", "n=3", env={"PYTHONPATH": str(tmp_path / "site")})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "n is 3"
    write(project / "hello.txt", "hi\n")
    r = cli("run", "-y", "hello.txt", env={"PYTHONPATH": str(tmp_path / "site")})
    assert r.returncode == 2 and ".sh" in r.stderr
    r = cli("run", "-y", "hello.txt")
    assert r.returncode == 2 and r.stderr.strip() == (
        "runyard: cannot run 'hello.txt': runyard runs scripts ending in .py, .r, and guild.yml operations")
