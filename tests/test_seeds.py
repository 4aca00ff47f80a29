"""Seeds as a batch dimension: `runyard run train.py --seeds N` (issue 24), through the real CLI
and API, on real runs; Guild AI 0.9 lists the runs it makes."""

from __future__ import annotations

import json

import pytest
import yaml

import runyard
from runyard.batch.seeds import draw

from conftest import cli, runs_in, write
from guildrun import guild_exe, run_guild

SCRIPT = '''
import random
units = 64
seed = 0
random.seed(seed)
print(f"loss: {1 / units + random.gauss(0, 0.01):.6f}")
'''


def _attrs(run_dir, name):
    p = run_dir / ".guild" / "attrs" / name
    return yaml.safe_load(p.read_text()) if p.exists() else None


def _trials(home):
    """(flags, seed_flag attr) of every trial run (batch runs left out)."""
    out = []
    for d in runs_in(home):
        if (d / ".guild" / "attrs" / "trials").exists():
            continue
        out.append((_attrs(d, "flags"), _attrs(d, "seed_flag")))
    return out


def _batch(home):
    return next(d for d in runs_in(home) if (d / ".guild" / "attrs" / "trials").exists())


def test_seeds_on_a_grid_make_every_setting_once_per_seed(project):
    write(project / "train.py", SCRIPT)
    r = cli("run", "train.py", "units=[32,64]", "--seeds", "3", "--random-seed", "7", "-y")
    assert r.returncode == 0, r.stderr
    seeds = draw(3, 7)
    assert f"Seeds for flag 'seed': {', '.join(map(str, seeds))}" in r.stderr  # printed
    trials = _trials(project / ".guild")
    assert len(trials) == 6
    assert sorted((f["units"], f["seed"]) for f, _ in trials) == sorted((u, s) for u in (32, 64) for s in seeds)
    assert {sf for _, sf in trials} == {"seed"}  # each run says which flag is its seed
    batch = _batch(project / ".guild")
    assert _attrs(batch, "seeds") == seeds and _attrs(batch, "seed_flag") == "seed"  # recorded
    assert "Seeds for flag 'seed'" in (batch / ".guild" / "output").read_text()
    # the same batch seed draws the same seeds again; another draws others
    assert draw(3, 7) == seeds and draw(3, 8) != seeds and len(set(seeds)) == 3


def test_seeds_alone_and_from_python(project):
    write(project / "train.py", SCRIPT)
    r = cli("run", "train.py", "--seeds", "2", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert len(_trials(project / ".guild")) == 2
    df = runyard.run("train.py", {"units": [16, 32]}, seeds=2, random_seed=11, echo=False)
    assert len(df) == 4 and set(df["flags.seed"]) == set(draw(2, 11))
    assert sorted(df["flags.units"]) == [16, 16, 32, 32]


@pytest.mark.parametrize("source,extra,flag", [
    ('random_seed = 1\nprint("loss: 1")\n', [], "random_seed"),
    ('#| seed-flag: init\ninit = 1\nprint("loss: 1")\n', [], "init"),
    ('import argparse\np = argparse.ArgumentParser()\np.add_argument("--rng", type=int, default=0)\n'
     'a = p.parse_args()\nprint("loss: 1")\n', ["--seed-flag", "rng"], "rng"),
])
def test_seed_flag_is_found_or_named(project, source, extra, flag):
    write(project / "s.py", source)
    r = cli("run", "s.py", "--seeds", "2", "-y", "-q", *extra)
    assert r.returncode == 0, r.stderr
    trials = _trials(project / ".guild")
    assert len(trials) == 2 and all(sf == flag and flag in f for f, sf in trials)


def test_seed_flags_in_config_files_and_r_scripts(project):
    write(project / "cfg.py", '''
    #| flags-dest: config.yml
    import yaml
    print("loss:", yaml.safe_load(open("config.yml"))["rng_seed"])
    ''')
    write(project / "config.yml", "rng_seed: 1\nlr: 0.1\n")
    r = cli("run", "cfg.py", "--seeds", "2", "-y", "-q")
    assert r.returncode == 0, r.stderr
    assert {sf for _, sf in _trials(project / ".guild")} == {"rng_seed"}
    from runyard.lang import inspect

    write(project / "t.R", "seed <- 1\nspan <- 0.5\ncat('loss:', seed, '\\n')\n")
    assert runyard.batch.seeds.seed_flag(inspect(project / "t.R")) == "seed"


def test_bad_seed_options_are_one_line_and_make_nothing(project):
    write(project / "none.py", 'units = 1\nprint("loss: 1")\n')
    write(project / "train.py", SCRIPT)
    for args, words in [
        (["none.py", "--seeds", "3"], "#| seed-flag: NAME"),
        (["train.py", "--seeds", "3", "seed=[1,2]"], "--seeds sets flag 'seed'"),
        (["train.py", "--seeds", "3", "--seed-flag", "nope"], "has no flag 'nope'"),
        (["train.py", "--seeds", "0"], "--seeds must be between 1"),
        (["train.py", "--seeds", "x"], "--seeds needs a whole number"),
        (["train.py", "--seed-flag", "seed"], "--seed-flag goes with --seeds"),
    ]:
        r = cli("run", *args, "-y")
        assert r.returncode == 2, (args, r.stderr)
        assert words in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert runs_in(project / ".guild") == []


def test_random_search_with_seeds_groups_each_trial(project):
    write(project / "s.py", 'x = 0.5\nseed = 0\nprint(f"loss: {x + seed % 7 / 100}")\n')
    r = cli("run", "s.py", "x=uniform[0:1]", "--seeds", "3", "-m", "2", "-y")
    assert r.returncode == 0, r.stderr
    trials = _trials(project / ".guild")
    assert len(trials) == 6
    xs = {f["x"] for f, _ in trials}
    assert len(xs) == 2  # two settings, each run with all three seeds
    assert "mean of seeds" in r.stderr and " ± " in r.stderr and "(3 runs)" in r.stderr


def test_tpe_trial_is_n_seeded_runs_told_their_mean(project):
    pytest.importorskip("optuna")
    write(project / "s.py", 'x = 0.5\nseed = 0\nprint(f"loss: {(x - 0.3) ** 2 + seed % 5 / 1000}")\n')
    r = cli("run", "s.py", "x=uniform[0:1]", "--optimizer", "tpe", "--seeds", "2", "-m", "3", "-y", "-q")
    assert r.returncode == 0, r.stderr
    trials = _trials(project / ".guild")
    assert len(trials) == 6  # --max-trials counts trials: 3 trials of 2 runs
    by_x: dict = {}
    for f, sf in trials:
        by_x.setdefault(f["x"], []).append(f["seed"])
        assert sf == "seed"
    assert len(by_x) == 3 and all(sorted(v) == sorted(draw(2, _attrs(_batch(project / ".guild"), "random_seed")))
                                  for v in by_x.values())
    out = (_batch(project / ".guild") / ".guild" / "output").read_text()
    assert "mean of seeds" in out and "(2 runs)" in out


def test_guild_ai_lists_seeded_runs(project):
    guild_exe()
    write(project / "train.py", SCRIPT)
    assert cli("run", "train.py", "--seeds", "2", "-y", "-q").returncode == 0
    r = run_guild("runs", "info", "1", home=project / ".guild", cwd=project, check=True)
    assert "seed:" in r.stdout and "completed" in r.stdout


def test_api_json_of_seeded_runs_for_r(project):
    write(project / "train.py", SCRIPT)
    ids_file = project / "ids.json"
    r = cli("api", "run", "train.py", "units=[8,16]", "--seeds", "2", "--ids-file", str(ids_file), "-q")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(ids_file.read_text())) == 4
