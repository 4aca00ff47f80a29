"""runyard next to MLflow and Aim: the listing and trivial-tracked-run rows of benchmarks/run.py.

    python benchmarks/run.py --only list,trivial --sizes 10000 --trackers          # venv made if missing
    python benchmarks/run.py --only list,trivial --sizes 10000 --trackers PYTHON   # a given interpreter
    python benchmarks/trackers.py build 10000      # just build (or find) the MLflow stores / Aim repo

The trackers are an optional extra for the benchmarks only: they live in their own venv
(``scripts/trackers-venv.sh``, from the lock ``requirements/trackers.txt``) and this harness talks
to them only through processes of that venv's python. When it is missing, or a tracker does not
import there, its rows say "not installed" (with the reason) and nothing fails.

Rows (see docs/benchmarks.md, "Next to MLflow and Aim"):

- listing: N runs handed back as a pandas DataFrame by a new process, whole process time (start-up
  and imports included): runyard ``ls_runs()`` on the bench home of N runs (its listing snapshot
  warm, as after any listing), MLflow ``search_runs()`` on its default store (SQLite ``mlflow.db``
  in the working directory) and on a file store (``file:`` URI), Aim ``Repo.query_runs().dataframe()``
  plus each run's last metric values. Taking turns, median of the repeats.
- tracking: a script that logs one param and one metric, whole process, over bare ``python``:
  ``runyard run t.py`` (the script only prints; runyard records the run), ``mlflow.start_run()``
  + ``log_param`` + ``log_metric`` (default store), ``aim.Run()`` + ``run["hparams"]`` +
  ``run.track()``. Taking turns with bare python, 1 warm-up, median of 5.

The stores are built once per (tracker version, N) through each tracker's own client API in one
process, and cached under ``${RUNYARD_BENCH_DIR:-~/.cache/runyard/bench}`` like the runyard homes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import make_home  # noqa: E402

NOT_INSTALLED = "not installed"
MARKER = ".runyard-bench-complete"
TRACKERS = ("mlflow", "aim")
BUILD_TIMEOUT_S = 3 * 3600.0

# ---------------------------------------------------------------------------------------------
# Snippets run by the trackers' python

VERSIONS = textwrap.dedent(
    """
    import json, importlib.metadata as md
    out = {}
    for name in ("mlflow", "aim", "pandas"):
        try:
            __import__(name)
            out[name] = md.version(name)
        except Exception as e:
            out[name] = None
            out[name + "_error"] = (type(e).__name__ + ": " + str(e))[:200]
    print(json.dumps(out))
    """
)

# Run i's params and metrics, from i alone (as the runyard homes have them: 5 flags, loss and
# acc at steps 1-3; 85% finished, 9% failed, 6% killed).
RUN_SPEC = textwrap.dedent(
    """
    import random
    def spec(i):
        r = random.Random(i // 10)
        params = {"epochs": r.randint(1, 50), "lr": round(10 ** r.uniform(-3.7, -1), 6),
                  "optimizer": r.choice(["adam", "sgd", "rmsprop"]), "units": r.randint(16, 512),
                  "seed": i % 10}
        r = random.Random(i)
        loss = [round(r.uniform(0.1, 2.0) / s, 6) for s in (1, 2, 3)]
        acc = [round(min(0.99, r.uniform(0.3, 0.7) + 0.1 * s), 6) for s in (1, 2, 3)]
        u = i % 100
        status = "FINISHED" if u < 85 else "FAILED" if u < 94 else "KILLED"
        return params, loss, acc, status
    """
)

BUILD_MLFLOW = RUN_SPEC + textwrap.dedent(
    """
    import sys, time, logging
    uri, n = sys.argv[1], int(sys.argv[2])
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    from mlflow.tracking import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    client = MlflowClient(uri)
    exp = client.create_experiment("bench")
    t0 = int(time.time() * 1000) - n * 1000
    for i in range(n):
        params, loss, acc, status = spec(i)
        start = t0 + i * 1000
        run = client.create_run(exp, start_time=start, run_name=f"train-{i}",
                                tags={"mlflow.source.name": "train.py"})
        rid = run.info.run_id
        metrics = [Metric(k, v[s], start + 100 * (s + 1), s + 1)
                   for k, v in (("loss", loss), ("acc", acc)) for s in range(3)]
        client.log_batch(rid, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()])
        client.set_terminated(rid, status, end_time=start + 900)
        if i % 1000 == 999:
            print(f"mlflow {uri[:6]}: {i + 1} runs", file=sys.stderr, flush=True)
    """
)

BUILD_AIM = RUN_SPEC + textwrap.dedent(
    """
    import sys
    path, n = sys.argv[1], int(sys.argv[2])
    from aim import Repo, Run
    repo = Repo.from_path(path, init=True)
    for i in range(n):
        params, loss, acc, status = spec(i)
        run = Run(repo=repo, experiment="bench", system_tracking_interval=None,
                  capture_terminal_logs=False)
        run.name = f"train-{i}"
        run["hparams"] = params
        run["status"] = status
        for s in range(3):
            run.track(loss[s], name="loss", step=s + 1)
            run.track(acc[s], name="acc", step=s + 1)
        run.close()
        if i % 500 == 499:
            print(f"aim: {i + 1} runs", file=sys.stderr, flush=True)
    # Runs are read through the repo's index, which `aim up` keeps up to date as runs are written;
    # without it they list with no params or metrics. Built as Aim's own tool does it.
    import os, subprocess
    aim = os.path.join(os.path.dirname(sys.executable), "aim")
    subprocess.run([aim, "storage", "--repo", path, "reindex", "-y"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    """
)

# The listings, as a user's script would do them; each prints its row count on the last line.
LIST_RUNYARD = "import runyard; print(len(runyard.ls_runs()))"
LIST_MLFLOW = "import mlflow; print(len(mlflow.search_runs(search_all_experiments=True)))"
# Aim's DataFrame of runs (props and params) has no metrics: their last values are joined on,
# from each run's sequence info (what Aim's UI shows in its runs table).
LIST_AIM = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from aim import Repo
    from aim.sdk.types import QueryReportMode
    repo = Repo.from_path(sys.argv[1])
    runs = repo.query_runs("", report_mode=QueryReportMode.DISABLED)
    df = runs.dataframe()
    last = {}
    for item in runs.iter_runs():
        run = item.run
        info = run.collect_sequence_info(sequence_types="metric")
        last[run.hash] = {"metric." + m["name"]: m["values"]["last"] for m in info.get("metric", [])}
    df = df.join(pd.DataFrame.from_dict(last, orient="index"), on="hash")
    print(len(df))
    """
)

TRIVIAL_BARE = 'print("hi")\n'
TRIVIAL_RUNYARD = 'print("hi")\n'  # runyard records the run from outside: `runyard run t.py`
TRIVIAL_MLFLOW = textwrap.dedent(
    """
    import mlflow
    with mlflow.start_run():
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("loss", 0.5)
    """
)
TRIVIAL_AIM = textwrap.dedent(
    """
    from aim import Run
    run = Run()
    run["hparams"] = {"lr": 0.01}
    run.track(0.5, name="loss")
    """
)


# ---------------------------------------------------------------------------------------------
# The trackers' python


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def venv_python() -> Path:
    venv = Path(os.environ.get("RUNYARD_TRACKERS_VENV") or REPO / ".venv-trackers")
    return venv / "bin" / "python"


def find_python(explicit: str | None, allow_install: bool = True) -> tuple[str | None, str]:
    """The trackers' python: ``explicit``, else the venv of scripts/trackers-venv.sh (made if
    missing and ``allow_install``). (path, "") or (None, why not)."""
    if explicit:
        return (explicit, "") if Path(explicit).exists() else (None, f"{explicit} does not exist")
    py = venv_python()
    if py.exists():
        return str(py), ""
    if not allow_install:
        return None, f"no {py} (make it with scripts/trackers-venv.sh)"
    _log("making the trackers venv (scripts/trackers-venv.sh)")
    r = subprocess.run(["bash", str(REPO / "scripts" / "trackers-venv.sh")], capture_output=True, text=True)
    if r.returncode != 0:
        why = [ln for ln in r.stderr.splitlines() if ln.strip()]
        return None, f"scripts/trackers-venv.sh failed: {(why[-1] if why else '')[:160]}"
    return r.stdout.strip().splitlines()[-1], ""


def versions(python: str | None) -> dict:
    """{"mlflow": version or None, "aim": ..., "pandas": ..., "<name>_error": why} in ``python``."""
    if not python:
        return {}
    try:
        r = subprocess.run([python, "-c", VERSIONS], capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as e:
        return {"mlflow": None, "aim": None, "mlflow_error": repr(e)[:200], "aim_error": repr(e)[:200]}


def tracker_env() -> dict:
    """The environment of a tracker's process: no tracking URI or repo set from outside,
    Python's default buffering, bytecode as installed."""
    env = dict(os.environ)
    for k in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID", "AIM_REPO",
              "GUILD_HOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"):
        env.pop(k, None)
    return env


def store_env(kind: str) -> dict:
    """:func:`tracker_env`, plus MLflow 3's opt-in to its file store (in maintenance mode: it
    refuses to open one without MLFLOW_ALLOW_FILE_STORE=true)."""
    env = tracker_env()
    if kind == "mlflow-file":
        env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    return env


# ---------------------------------------------------------------------------------------------
# Cached stores


def store_path(kind: str, version: str, n: int) -> Path:
    """Where the store ``kind`` (mlflow-sqlite, mlflow-file, aim) of ``n`` runs is cached."""
    return make_home.bench_dir() / f"{kind}-{version}-{n}"


def max_runs(name: str) -> int:
    """The largest store built for ``name``: MLflow 10,000 runs (~10-20 min through its API on
    this machine), Aim 2,000 (Aim's runs go through its API at 3-12 a second here, then its index
    is rebuilt: 10,000 runs take over an hour). RUNYARD_BENCH_MLFLOW_MAX / RUNYARD_BENCH_AIM_MAX
    raise them."""
    default = 2_000 if name == "aim" else 10_000
    return int(os.environ.get(f"RUNYARD_BENCH_{name.upper()}_MAX") or default)


def is_complete(path: Path) -> bool:
    return (path / MARKER).is_file()


def build_store(python: str, kind: str, version: str, n: int) -> tuple[Path | None, str]:
    """Build (or find) the cached store; (path, "") or (None, why it failed).

    MLflow's default store is a SQLite ``mlflow.db`` in the working directory: the sqlite store
    is that file in its directory, listed with that directory as the working directory."""
    path = store_path(kind, version, n)
    if is_complete(path):
        return path, ""
    part = path.with_name(path.name + ".partial")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    if kind == "mlflow-sqlite":
        cmd = [python, "-c", BUILD_MLFLOW, f"sqlite:///{part}/mlflow.db", str(n)]
    elif kind == "mlflow-file":
        cmd = [python, "-c", BUILD_MLFLOW, (part / "mlruns").as_uri(), str(n)]
    else:
        cmd = [python, "-c", BUILD_AIM, str(part), str(n)]
    if shutil.which("eatmydata"):  # fsync made a no-op for the build only (same data, 2-20x faster)
        cmd = ["eatmydata", *cmd]
    _log(f"building {path.name} through {kind.split('-')[0]}'s API (once; may take minutes)")
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=part, env=store_env(kind), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"building {kind} with {n} runs timed out"
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        return None, f"building {kind}: exit {r.returncode}: {(lines[-1] if lines else '')[:160]}"
    seconds = time.perf_counter() - t0
    (part / MARKER).write_text(json.dumps({"runs": n, "kind": kind, "version": version,
                                           "build_seconds": round(seconds, 1)}) + "\n")
    shutil.rmtree(path, ignore_errors=True)
    part.rename(path)
    _log(f"{path.name} built in {seconds:.0f} s")
    return path, ""


# ---------------------------------------------------------------------------------------------
# Timing


def _time_once(cmd: list[str], env: dict, cwd: Path, timeout: float) -> tuple[float | None, str, str]:
    """(seconds, stdout's last line, "") or (None, "", why)."""
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", "timeout"
    except OSError as e:
        return None, "", str(e)[:160]
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        return None, "", f"exit {r.returncode}: {(lines[-1] if lines else '')[:160]}"
    out = [ln for ln in r.stdout.decode("utf-8", "replace").splitlines() if ln.strip()]
    return seconds, out[-1] if out else "", ""


def take_turns(commands: dict[str, tuple[list[str], dict, Path]], repeats: int, warmup: int = 0,
               timeout: float = 900.0) -> dict[str, dict]:
    """Each command ``warmup + repeats`` times, taking turns (load on the machine hits them
    alike). {name: {"times": [...], "last": stdout's last line} or {"error": why}}."""
    res: dict[str, dict] = {k: {"times": []} for k in commands}
    for k in range(warmup + repeats):
        for name, (cmd, env, cwd) in commands.items():
            if "error" in res[name]:
                continue
            t, last, why = _time_once(cmd, env, cwd, timeout)
            if t is None:
                res[name] = {"error": why}
                _log(f"{name}: {why}")
                continue
            res[name]["last"] = last
            if k >= warmup:
                res[name]["times"].append(t)
    for r in res.values():
        if r.get("times"):
            r["median"] = statistics.median(r["times"])
    return res


# ---------------------------------------------------------------------------------------------
# Rows


class Trackers:
    """The trackers' python (or why there is none) and their versions, found once."""

    def __init__(self, python: str | None, why: str = ""):
        self.python, self.why = python, why
        self.versions = versions(python) if python else {}

    @classmethod
    def find(cls, explicit: str | None, allow_install: bool = True) -> Trackers:
        python, why = find_python(explicit, allow_install)
        return cls(python, why)

    def missing(self, name: str) -> str | None:
        """None if ``name`` (mlflow, aim) can be timed, else the row's text: "not installed: why"."""
        if not self.python:
            return f"{NOT_INSTALLED}: {self.why}"
        if not self.versions.get(name):
            return f"{NOT_INSTALLED}: {self.versions.get(name + '_error') or 'does not import'}"
        return None

    def label(self, name: str) -> str:
        return f"{'MLflow' if name == 'mlflow' else 'Aim'} {self.versions.get(name) or ''}".rstrip()


def list_rows(b, n: int, home: Path, tr: Trackers, h, repeats: int | None = None) -> None:
    """The listing rows: runyard, MLflow (sqlite, file), Aim, each a new process handing back a
    DataFrame of ``n`` runs; whole process, taking turns, median. Adds rows to ``b`` (a
    ``run.Bench``); ``h`` is the harness module (benchmarks/run.py: Row, env_for, drop_cache)."""
    row_cls = h.Row
    reps = repeats or max(3, b.repeats)
    cmds: dict[str, tuple[list[str], dict, Path]] = {}
    missing: dict[str, str] = {}
    work = Path(tempfile.mkdtemp(prefix="trackers-list-", dir=b.workdir))
    h.drop_cache(home)
    cmds["runyard"] = ([sys.executable, "-c", LIST_RUNYARD], h.env_for(home), work)
    for kind in ("mlflow-sqlite", "mlflow-file", "aim"):
        name = kind.split("-")[0]
        why = tr.missing(name)
        if why is None and n > max_runs(name):
            why = (f"skipped: more than {max_runs(name):,} runs to build through {tr.label(name)}'s API "
                   f"(RUNYARD_BENCH_{name.upper()}_MAX raises the limit)")
        if why is None:
            assert tr.python
            path, why = build_store(tr.python, kind, tr.versions[name], n)
        if why:
            missing[kind] = why
            continue
        assert tr.python and path
        if kind == "mlflow-sqlite":  # the default store: mlflow.db in the working directory
            cmds[kind] = ([tr.python, "-c", LIST_MLFLOW], tracker_env(), path)
        elif kind == "mlflow-file":
            env = dict(store_env(kind), MLFLOW_TRACKING_URI=(path / "mlruns").as_uri())
            cmds[kind] = ([tr.python, "-c", LIST_MLFLOW], env, work)
        else:
            cmds[kind] = ([tr.python, "-c", LIST_AIM, str(path)], tracker_env(), work)
    # a first listing (runyard's snapshot then exists, as after any listing) as the warm-up
    res = take_turns(cmds, reps, warmup=1)
    ry = res["runyard"].get("median")
    labels = {"runyard": "runyard: `python -c 'import runyard; runyard.ls_runs()'`",
              "mlflow-sqlite": f"{tr.label('mlflow')}: search_runs(), default store (sqlite mlflow.db)",
              "mlflow-file": f"{tr.label('mlflow')}: search_runs(), file store (file: URI)",
              "aim": f"{tr.label('aim')}: Repo.query_runs().dataframe() + last metrics"}
    for kind, label in labels.items():
        op = f"  {label}, whole process"
        key = f"list-{kind}"
        r = res.get(kind, {})
        if _unmeasured(b, row_cls, op, key, n, missing.get(kind), r):
            continue
        t = r["median"]
        try:
            rows = int(r.get("last", ""))
        except ValueError:
            rows = None
        note = f"median of {len(r['times'])} after 1 warm-up, taking turns; {rows} rows"
        if kind != "runyard":
            note = (f"trackers row: {label.split(':')[0]}'s time in the runyard column; "
                    + note + (f"; {t / ry:.1f}× runyard's whole process" if ry else ""))
        else:
            note = "new process: start-up, import runyard + pandas, listing (snapshot warm); " + note
        b.add(row_cls(op, key, n, t, None, note=note,
                      extra={"rows": rows, "rows_expected": n, "times": r["times"], "tracker": kind}))


def _unmeasured(b, row_cls, op: str, key: str, n: int | None, why_missing: str | None, r: dict) -> bool:
    """Add the row of a tracker that is not installed or whose runs failed; False if it was measured."""
    if why_missing:
        b.add(row_cls(op, key, n, why_missing, None, note="trackers row; value in the runyard column"))
    elif "error" in r:
        b.add(row_cls(op, key, n, f"n/a ({r['error'][:80]})", None, note=f"trackers row: {r['error']}"))
    else:
        return False
    return True


def trivial_rows(b, tr: Trackers, h, repeats: int = 5) -> None:
    """The tracking rows: bare python, `runyard run`, MLflow, Aim on a one-param one-metric
    script, whole process, taking turns, 1 warm-up, median of ``repeats``. Adds rows to ``b``;
    ``h`` is the harness module (benchmarks/run.py: Row, env_for, runyard_cmd)."""
    row_cls, env_for, runyard_cmd = h.Row, h.env_for, h.runyard_cmd

    def project(name: str, text: str) -> tuple[Path, Path]:
        root = Path(tempfile.mkdtemp(prefix=f"trackers-{name}-", dir=b.workdir))
        (root / "proj").mkdir()
        (root / "home").mkdir()
        (root / "proj" / "t.py").write_text(text)
        return root / "proj", root / "home"

    cmds: dict[str, tuple[list[str], dict, Path]] = {}
    missing: dict[str, str] = {}
    proj, _ = project("bare", TRIVIAL_BARE)
    cmds["bare"] = ([sys.executable, "t.py"], env_for(None), proj)
    proj, home = project("runyard", TRIVIAL_RUNYARD)
    cmds["runyard"] = (runyard_cmd() + ["run", "t.py", "-y", "-q"], env_for(home), proj)
    for name, text in (("mlflow", TRIVIAL_MLFLOW), ("aim", TRIVIAL_AIM)):
        why = tr.missing(name)
        if why:
            missing[name] = why
            continue
        assert tr.python
        proj, _ = project(name, text)
        cmds[name] = ([tr.python, "t.py"], tracker_env(), proj)
    res = take_turns(cmds, repeats, warmup=1)
    bare = res["bare"].get("median")
    labels = {"runyard": "runyard: `runyard run t.py` (t.py prints)",
              "mlflow": f"{tr.label('mlflow')}: start_run, log_param, log_metric (default store)",
              "aim": f"{tr.label('aim')}: Run(), run['hparams'], run.track()"}
    for name, label in labels.items():
        op = f"  {label}, whole process"
        key = f"trivial-{name}"
        r = res.get(name, {})
        if _unmeasured(b, row_cls, op, key, None, missing.get(name), r):
            continue
        t = r["median"]
        parts = [f"median of {len(r['times'])} after 1 warm-up, taking turns with bare python"]
        extra: dict = {"times": r["times"], "tracker": name}
        if bare:
            extra.update(bare=bare, overhead=t - bare, x_bare=t / bare)
            parts.append(f"bare python {bare * 1000:.0f} ms; overhead {(t - bare) * 1000:.0f} ms, {t / bare:.1f}× bare")
        if name != "runyard":
            parts.insert(0, f"trackers row: {label.split(':')[0]}'s time in the runyard column")
        b.add(row_cls(op, key, None, t, None, note="; ".join(parts), extra=extra))


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="build (or find) the cached MLflow stores and Aim repo")
    p.add_argument("command", choices=["build", "versions"])
    p.add_argument("sizes", nargs="?", default="10000")
    p.add_argument("--python", help="the trackers' python (default: scripts/trackers-venv.sh's venv)")
    p.add_argument("--only", default="mlflow-sqlite,mlflow-file,aim")
    a = p.parse_args(argv)
    tr = Trackers.find(a.python)
    if a.command == "versions" or not tr.python:
        print(json.dumps({"python": tr.python, "why": tr.why, **tr.versions}, indent=2))
        return 0 if tr.python else 1
    rc = 0
    for n in [int(s) for s in a.sizes.split(",")]:
        for kind in a.only.split(","):
            why = tr.missing(kind.split("-")[0])
            path, why = (None, why) if why else build_store(tr.python, kind, tr.versions[kind.split("-")[0]], n)
            print(f"{kind} {n}: {path or why}")
            rc |= path is None
    return rc


if __name__ == "__main__":
    sys.exit(main())
