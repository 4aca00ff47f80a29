"""runyard vs Guild AI 0.9, side by side on this machine.

    python benchmarks/run.py                                  # sizes 1000,10000,100000, all ops
    python benchmarks/run.py --sizes 1000 --only list,runs    # a subset
    python benchmarks/run.py --guild /path/to/guild           # a given Guild executable
    python benchmarks/run.py --no-guild                       # runyard only

Operations (see docs/benchmarks.md): list, runs, compare, filter (at each size), trivial, print,
batch (size-independent). A runyard operation that fails or does not exist yet is shown as
"n/a (not available)"; Guild is skipped at 100k runs and wherever it would take over 5 minutes.
Prints one table and writes the same rows as JSON to
``${RUNYARD_BENCH_DIR:-~/.cache/runyard/bench}/results-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import make_home  # noqa: E402

NA = "n/a (not available)"
SKIPPED = "skipped"
OPS = ("list", "runs", "compare", "filter", "summary", "trivial", "print", "tqdm", "flood", "batch", "series")
SIZED = ("list", "runs", "compare", "filter", "summary")
FILTER_EXPR = "flag:lr < 0.01 and scalar:loss <= 0.3"
GUILD_LIMIT_S = 300.0  # skip a Guild operation predicted to take longer than this
GUILD_MAX_RUNS = 50_000  # never run Guild on homes this big (100k)
PROC_TIMEOUT_S = 900.0

# Budgets from design.md section 4: (operation key, size) -> (text, seconds or ratio, kind)
# kind: "s" judges the time; "x", "per" and "ratio" judge extra["runyard_x"],
# extra["runyard_overhead_per_trial"] and extra["ratio"].
BUDGETS: dict[tuple[str, int | None], tuple[str, float, str]] = {
    ("list", 1000): ("≤ 30 ms", 0.030, "s"),
    ("list", 10000): ("≤ 150 ms", 0.150, "s"),
    ("list", 100000): ("≤ 1.5 s", 1.5, "s"),
    ("list-recheck", 1000): ("≤ 30 ms", 0.030, "s"),
    ("list-recheck", 10000): ("≤ 150 ms", 0.150, "s"),
    ("list-recheck", 100000): ("≤ 1.5 s", 1.5, "s"),
    ("list-cold", 10000): ("≤ 0.5 s", 0.5, "s"),
    ("list-cold", 100000): ("≤ 5 s", 5.0, "s"),
    ("runs", 10000): ("≤ 0.4 s", 0.4, "s"),
    ("compare", 10000): ("≤ 0.5 s", 0.5, "s"),
    ("filter", 100000): ("≤ 1 s", 1.0, "s"),
    ("summary", 100000): ("≤ 1 s", 1.0, "s"),
    ("trivial", None): ("≤ 2.5× bare", 2.5, "x"),
    ("print", None): ("≤ 1.15× bare", 1.15, "x"),
    ("batch", None): ("≤ 0.3 s/trial", 0.3, "per"),
    ("workers", None): ("≤ 0.6× --workers 1", 0.6, "ratio"),
    ("series", None): ("≤ 1 s", 1.0, "s"),
}
MEASURES = {"x": "runyard_x", "per": "runyard_overhead_per_trial", "ratio": "ratio"}
# Guild's own figures quoted in design.md, shown for reference in notes.
DESIGN_GUILD = {("list", 1000): "6.5 s", ("list", 10000): "73 s", ("runs", 10000): "10 s",
                ("compare", 10000): "18 s", ("trivial", None): "10.6× bare", ("print", None): "21.6× bare"}


@dataclass
class Row:
    """One line of the results table. Times are seconds; a str means not measured (why)."""

    op: str
    key: str
    size: int | None
    runyard: float | str | None
    guild: float | str | None
    budget: str = "—"
    ok: str = ""
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Guild time / runyard time, when both were measured."""
        if isinstance(self.runyard, float) and isinstance(self.guild, float) and self.runyard > 0:
            return self.guild / self.runyard
        return None


# ---------------------------------------------------------------------------------------------
# Processes


def log(msg: str) -> None:
    """Progress to stderr."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def env_for(home: Path | str | None) -> dict:
    """The process environment, with GUILD_HOME set to ``home`` (or removed)."""
    env = dict(os.environ)
    env.pop("GUILD_HOME", None)
    # Python's default buffering for everyone: bare python, runyard and Guild are measured alike.
    env.pop("PYTHONUNBUFFERED", None)
    if home is not None:
        env["GUILD_HOME"] = str(home)
    # Installed packages have their bytecode compiled (pip does it); measure that case.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_runyard() -> None:
    """Compile runyard's modules to bytecode once, as an installed package has them."""
    import compileall

    import runyard

    compileall.compile_dir(str(Path(runyard.__file__).parent), quiet=1)


@dataclass
class ProcResult:
    seconds: float
    returncode: int
    stderr: str
    stdout: bytes = b""


def run_proc(cmd: list[str], env: dict, cwd: str | Path | None = None, read_stdout: bool = False,
             keep_stdout: bool = False, timeout: float = PROC_TIMEOUT_S) -> ProcResult:
    """Run ``cmd`` as a whole process and time it with perf_counter.

    stdout goes to /dev/null, or to a pipe the harness reads to the end (``read_stdout``)."""
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryFile() as err:
            if read_stdout:
                proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=err)
                chunks = []
                try:
                    assert proc.stdout is not None
                    while True:
                        chunk = proc.stdout.read(65536)
                        if not chunk:
                            break
                        if keep_stdout:
                            chunks.append(chunk)
                    rc = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    return ProcResult(time.perf_counter() - t0, -9, "timeout")
                out = b"".join(chunks)
            else:
                try:
                    rc = subprocess.run(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=err, timeout=timeout).returncode
                except subprocess.TimeoutExpired:
                    return ProcResult(time.perf_counter() - t0, -9, "timeout")
                out = b""
            seconds = time.perf_counter() - t0
            err.seek(0)
            stderr = err.read()[-4000:].decode("utf-8", "replace")
    except OSError as e:
        return ProcResult(time.perf_counter() - t0, -1, str(e))
    return ProcResult(seconds, rc, stderr, out)


def last_line(text: str) -> str:
    """The last non-blank line of ``text``, shortened."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "")[:120]


def timed_proc(cmd: list[str], env: dict, repeats: int, cwd: str | Path | None = None,
               stat: str = "min", warmup: int = 0, read_stdout: bool = False,
               lines: list[int] | None = None) -> tuple[float | str, str]:
    """Time ``cmd`` ``repeats`` times: (min or median seconds, note), or (NA, why) if it fails.
    With ``lines``, stdout is read through a pipe and each run's line count appended to it."""
    times = []
    for k in range(warmup + repeats):
        r = run_proc(cmd, env, cwd=cwd, read_stdout=read_stdout or lines is not None, keep_stdout=lines is not None)
        if r.returncode != 0:
            return NA, f"exit {r.returncode}: {last_line(r.stderr)}"
        if lines is not None:
            lines.append(r.stdout.count(b"\n"))
        if k >= warmup:
            times.append(r.seconds)
    value = min(times) if stat == "min" else statistics.median(times)
    return value, f"{stat} of {len(times)}"


def runyard_cmd() -> list[str]:
    """How to start the runyard CLI: its console script beside this python (not a version
    manager's shim, which adds its own start-up), else on PATH, else ``python -c`` over runyard.cli."""
    beside = Path(sys.executable).parent / "runyard"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    exe = shutil.which("runyard")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from runyard.cli import main; sys.exit(main())"]


def find_guild(explicit: str | None, allow_install: bool = True) -> str | None:
    """The Guild 0.9 executable: ``--guild``, else the venv of scripts/guild-venv.sh (made if needed)."""
    if explicit:
        return explicit
    venv = Path(os.environ.get("RUNYARD_GUILD_VENV") or REPO / ".venv-guild")
    exe = venv / "bin" / "guild"
    if exe.exists() and run_proc([str(exe), "--version"], env_for(None), timeout=60).returncode == 0:
        return str(exe)
    if not allow_install:
        return None
    log("making the Guild venv (scripts/guild-venv.sh)")
    r = subprocess.run(["bash", str(REPO / "scripts" / "guild-venv.sh")], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"no Guild: {last_line(r.stderr)}")
        return None
    return r.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------
# In-process runyard timings (in a fresh python process that imports runyard first)

INPROC = textwrap.dedent(
    """
    import json, os, sys, time
    os.environ["GUILD_HOME"] = sys.argv[1]
    mode = sys.argv[2]
    out = {}
    t0 = time.perf_counter()
    try:
        import runyard
        out["import"] = time.perf_counter() - t0
    except Exception as e:
        print(json.dumps({"error": "import runyard: " + repr(e)[:200]}))
        sys.exit(0)

    # pandas is imported up front (and timed apart) so the calls measure runyard's own work.
    t0 = time.perf_counter()
    try:
        import pandas
        out["pandas"] = time.perf_counter() - t0
    except Exception:
        pass

    def timed(key, fn):
        t0 = time.perf_counter()
        try:
            r = fn()
        except Exception as e:
            out.setdefault("errors", {})[key] = type(e).__name__ + ": " + str(e)[:200]
            return None
        out[key] = time.perf_counter() - t0
        return r

    if mode == "list-recheck":  # as after RUNYARD_INDEX_RECHECK idle seconds: every call rechecks
        os.environ["RUNYARD_INDEX_RECHECK"] = "0"
    if mode in ("list", "list-cached", "list-recheck"):
        df = timed("first", lambda: runyard.ls_runs())
        if df is not None:
            out["rows"] = len(df)
        timed("second", lambda: runyard.ls_runs())
    if mode == "filter":
        timed("prime", lambda: runyard.ls_runs())
        df = timed("first", lambda: runyard.ls_runs(filter=sys.argv[3]))
        if df is not None:
            out["rows"] = len(df)
        timed("second", lambda: runyard.ls_runs(filter=sys.argv[3]))
    if mode == "summary":  # runs_summary() warm: right after a summary (a listing) in the same process
        timed("prime", lambda: (runyard.ls_runs(), runyard.runs_summary()))  # (+ scipy's import)
        df = timed("first", lambda: runyard.runs_summary())
        if df is not None:
            out["rows"] = len(df)
            out["runs"] = int(df["n"].sum())
        timed("second", lambda: runyard.runs_summary())
    if mode == "scalars":
        df = timed("first", lambda: runyard.ls_scalars(1))
        if df is not None:
            out["rows"] = len(df)
            try:
                out["loss_rows"] = int((df["tag"] == "loss").sum())
                out["runs"] = int(df["run"].nunique())
            except Exception as e:
                out.setdefault("errors", {})["columns"] = repr(e)[:200]
    print(json.dumps(out))
    """
)


# The system-call floor of a first listing: the files the run reader must touch for each run
# (the attrs directory's stamp, the run directory and .guild listed, each attribute it reads,
# opref, the event files), opened and read with nothing parsed, in one process; prints its CPU.
FLOOR = textwrap.dedent(
    """
    import json, os, sys
    from runyard.store.record import _ATTRS
    runs = sys.argv[1] + "/runs"
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    def read(p):
        try:
            fd = os.open(p, flags)
        except FileNotFoundError:
            return
        os.read(fd, 65536)
        os.close(fd)
    t0 = os.times()
    for rid in os.listdir(runs):
        d = runs + "/" + rid
        os.stat(d + "/.guild/attrs")
        for e in os.scandir(d):
            pass
        events = [e.path for e in os.scandir(d + "/.guild") if ".tfevents." in e.name]
        for name in _ATTRS:
            read(d + "/.guild/attrs/" + name)
        read(d + "/.guild/opref")
        for p in events:
            read(p)
    t1 = os.times()
    print(json.dumps({"user": t1.user - t0.user, "sys": t1.system - t0.system}))
    """
)


# The system-call floor of the recheck: what it must stat for each finished run (the attrs
# directory and the attributes Guild rewrites in place that the run has), nothing else; its CPU.
RECHECK_FLOOR = textwrap.dedent(
    """
    import json, os, sys
    runs = sys.argv[1] + "/runs"
    paths = []
    for rid in os.listdir(runs):
        attrs = runs + "/" + rid + "/.guild/attrs"
        paths.append(attrs)
        for name in ("label", "tags", "comments", "flags"):
            if os.path.exists(attrs + "/" + name):
                paths.append(attrs + "/" + name)
    stat = os.stat
    t0 = os.times()
    for p in paths:
        stat(p)
    t1 = os.times()
    print(json.dumps({"user": t1.user - t0.user, "sys": t1.system - t0.system, "stats": len(paths)}))
    """
)


def syscall_floor(home: Path, snippet: str | None = None) -> dict | None:
    """CPU seconds (``user``, ``sys``) of :data:`FLOOR` on ``home``, or None if it failed."""
    r = run_proc([sys.executable, "-c", snippet or FLOOR, str(home)], env_for(home), read_stdout=True,
                 keep_stdout=True)
    try:
        return json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def inproc(home: Path, mode: str, *args: str, timeout: float = PROC_TIMEOUT_S) -> dict:
    """Run the in-process snippet in a fresh python; its JSON (``error`` set on any failure)."""
    r = run_proc([sys.executable, "-c", INPROC, str(home), mode, *args], env_for(home),
                 read_stdout=True, keep_stdout=True, timeout=timeout)
    try:
        out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"exit {r.returncode}: {last_line(r.stderr)}"}
    if "error" not in out and out.get("errors"):
        out["error"] = next(iter(out["errors"].values()))
    return out


def drop_cache(home: Path) -> None:
    """Delete ``<home>/cache/`` (runyard's index, and Guild's scalar index with it)."""
    shutil.rmtree(home / "cache", ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Benchmark context


@dataclass
class Bench:
    guild: str | None
    repeats: int
    rows: list[Row] = field(default_factory=list)
    guild_rate: dict = field(default_factory=dict)  # op key -> seconds per run measured
    bare_trivial: float | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="runyard-bench-")))
    baseline: str | None = None  # another checkout's src/ for the capture rows (--baseline)

    def add(self, row: Row) -> None:
        """Judge ``row`` against its budget, keep it and log it."""
        budget = BUDGETS.get((row.key, row.size))
        if budget:
            row.budget = budget[0]
            if isinstance(row.runyard, float):
                measure = row.runyard if budget[2] == "s" else row.extra.get(MEASURES[budget[2]])
                if measure is not None:
                    row.ok = "yes" if measure <= budget[1] else "NO"
        got, want = row.extra.get("rows"), row.extra.get("rows_expected")
        if want is not None and got != want:  # a fast wrong answer is no answer
            row.ok = f"NO: {got} rows, expected {want}"
        self.rows.append(row)
        log(f"{row.op} [{row.size or '-'}]: runyard {fmt(row.runyard)}, Guild {fmt(row.guild)}"
            + (f"  ({row.note})" if row.note else ""))

    def guild_plan(self, key: str, n: int) -> str | None:
        """None if Guild should run ``key`` at ``n`` runs, else why not."""
        if not self.guild:
            return NA
        if n > GUILD_MAX_RUNS:
            return SKIPPED
        rate = self.guild_rate.get(key)
        if rate is not None and rate * n > GUILD_LIMIT_S:
            return SKIPPED
        return None

    def guild_repeats(self, key: str, n: int) -> int:
        """Fewer repeats for slow Guild operations (3 if under 10 s, 2 under 60 s, else 1)."""
        rate = self.guild_rate.get(key)
        predicted = rate * n if rate is not None else 0.0
        return min(self.repeats, 3 if predicted < 10 else 2 if predicted < 60 else 1)

    def time_guild(self, key: str, n: int, home: Path, args: list[str]) -> tuple[float | str, str]:
        """Time a Guild command on ``home``; remember its per-run rate for skip decisions."""
        why = self.guild_plan(key, n)
        if why:
            return why, ""
        assert self.guild
        t, note = timed_proc([self.guild, *args], env_for(home), self.guild_repeats(key, n), cwd=self.workdir)
        if isinstance(t, float):
            self.guild_rate[key] = t / n
        return t, note


def fmt(v: float | str | None) -> str:
    """Seconds as a short string (ms under a second)."""
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


# ---------------------------------------------------------------------------------------------
# Operations at a size


def op_list(b: Bench, n: int, home: Path) -> None:
    """(a) ls_runs() in-process, cold / warm / cached-in-a-new-process, each right after a
    listing and after the recheck interval (when finished runs are checked again), vs
    `guild api runs`. Every row checks that it got ``n`` rows."""
    cold, warm, cached, re_new, re_warm, imp, err = [], [], [], [], [], [], None
    counts: dict[str, int | None] = {}
    reps = b.repeats if n <= 10_000 else 1
    for _ in range(reps):
        drop_cache(home)
        out = inproc(home, "list")
        if "error" in out:
            err = out["error"]
            break
        cold.append(out["first"])
        warm.append(out["second"])
        imp.append(out.get("import", 0.0) + out.get("pandas", 0.0))
        counts["cold"] = counts["warm"] = out.get("rows")
        out = inproc(home, "list-cached")
        if "error" in out:
            err = out["error"]
            break
        cached.append(out["first"])
        counts["cached"] = out.get("rows")
        out = inproc(home, "list-recheck")
        if "error" in out:
            err = out["error"]
            break
        re_new.append(out["first"])
        re_warm.append(out["second"])
        counts["recheck"] = out.get("rows")
    guild, gnote = b.time_guild("list", n, home, ["api", "runs"])
    if err:
        b.add(Row("list runs as data: ls_runs() in-process", "list", n, NA, guild, note=f"runyard: {err}"))
        return

    def rows(key: str) -> dict:
        return {"rows": counts.get(key), "rows_expected": n}

    floor = syscall_floor(home)
    floor_note = "" if floor is None else (
        f"; floor: reading the same files with nothing parsed takes {floor['user'] + floor['sys']:.2f} s of CPU "
        f"({floor['sys']:.2f} s in the kernel), {(floor['user'] + floor['sys']) / (os.cpu_count() or 1):.2f} s "
        f"on {os.cpu_count()} cores")
    b.add(Row("ls_runs() cold (no cache/)", "list-cold", n, min(cold), guild,
              extra={**rows("cold"), "floor_cpu": floor},
              note=f"{counts['cold']} rows; import runyard + pandas {min(imp) * 1000:.0f} ms (not in the times); Guild: `guild api runs` whole process{floor_note}"))
    b.add(Row("ls_runs() warm (2nd call, right after a listing)", "list", n, min(warm), guild, extra=rows("warm"),
              note=f"min of {len(warm)}; Guild in design.md: {DESIGN_GUILD.get(('list', n), '—')}"))
    b.add(Row("ls_runs() new process, right after a listing", "list", n, min(cached), guild, extra=rows("cached"),
              note=f"min of {len(cached)}"))
    rfloor = syscall_floor(home, RECHECK_FLOOR)
    rfloor_note = "" if rfloor is None else (
        f"; floor: the recheck's {rfloor['stats']:,} stats alone take {(rfloor['user'] + rfloor['sys']) * 1000:.0f} ms of CPU")
    b.add(Row("ls_runs() new process, after the recheck interval", "list-recheck", n, min(re_new), guild,
              extra={**rows("recheck"), "floor_cpu": rfloor},
              note=f"min of {len(re_new)}; RUNYARD_INDEX_RECHECK=0 in the child: finished runs are checked again, as after 5 s idle{rfloor_note}"))
    b.add(Row("ls_runs() in-process, after the recheck interval", "list-recheck", n, min(re_warm), guild,
              extra=rows("recheck"), note=f"min of {len(re_warm)}; the 2nd call in that process{rfloor_note}"))
    if getattr(b, "trackers", None):  # --trackers: MLflow and Aim next to runyard (benchmarks/trackers.py)
        import trackers
        trackers.list_rows(b, n, home, b.trackers, sys.modules[__name__])


def op_runs(b: Bench, n: int, home: Path) -> None:
    """(b) `runyard runs --all` vs `guild runs --all`, whole process, stdout read by the harness
    (its lines counted: one per run)."""
    lines: list[int] = []
    t, note = timed_proc(runyard_cmd() + ["runs", "--all"], env_for(home), b.repeats, cwd=b.workdir, lines=lines)
    g, gnote = b.time_guild("runs", n, home, ["runs", "--all"])
    b.add(Row("`runs --all` whole process", "runs", n, t, g, note=note if t == NA else f"{lines[-1]} lines",
              extra={"rows": lines[-1] if lines else None, "rows_expected": n}))


def op_compare(b: Bench, n: int, home: Path) -> None:
    """(c) `runyard compare --csv -` vs `guild compare --csv -`, whole process (lines counted:
    a header and one per run)."""
    lines: list[int] = []
    t, note = timed_proc(runyard_cmd() + ["compare", "--csv", "-"], env_for(home), b.repeats, cwd=b.workdir,
                         lines=lines)
    g, gnote = b.time_guild("compare", n, home, ["compare", "--csv", "-"])
    b.add(Row("`compare --csv -` whole process", "compare", n, t, g,
              extra={"rows": lines[-1] - 1 if lines else None, "rows_expected": n},
              note=(note if t == NA else f"{lines[-1] - 1} rows") + (f" Guild: {gnote} (1st is a cold index)" if isinstance(g, float) else "")))


PARSE_FIRST = textwrap.dedent(
    """
    import sys, time
    t = time.process_time()
    from runyard.select.filter import parse_filter
    parse_filter(sys.argv[1])
    print(time.process_time() - t)
    """
)


def op_filter(b: Bench, n: int, home: Path) -> None:
    """(d) ls_runs(filter=...) in-process (after one ls_runs()) vs `guild runs -a -F` whole process."""
    best, rows, err = [], None, None
    for _ in range(b.repeats if n <= 10_000 else 1):
        out = inproc(home, "filter", FILTER_EXPR)
        if "error" in out:
            err = out["error"]
            break
        best.append(min(out["first"], out["second"]))
        rows = out.get("rows")
    g, gnote = b.time_guild("filter", n, home, ["runs", "-a", "-F", FILTER_EXPR])
    expected = make_home.expected_counts(n)["filter"] if n <= 10_000 else None
    if err:
        b.add(Row(f"filter `{FILTER_EXPR}`", "filter", n, NA, g, note=f"runyard: {err}"))
        return
    note = f"{rows} rows" + (f" (expected {expected}!)" if expected is not None and rows != expected else "")
    b.add(Row("ls_runs(filter=...) in-process", "filter", n, min(best), g,
              extra={"rows": rows, "rows_expected": expected} if expected is not None else {"rows": rows},
              note=note + "; Guild: `guild runs -a -F` whole process"))
    # A first filter in a new process: `runs --all -F EXPR` against `runs --all`, interleaved.
    cmds = {"plain": (runyard_cmd() + ["runs", "--all"], env_for(home), b.workdir),
            "filter": (runyard_cmd() + ["runs", "--all", "-F", FILTER_EXPR], env_for(home), b.workdir)}
    if b.baseline:
        benv = dict(env_for(home), PYTHONPATH=b.baseline)
        cmds.update({"plain (baseline)": (cmds["plain"][0], benv, b.workdir),
                     "filter (baseline)": (cmds["filter"][0], benv, b.workdir)})
    res = interleaved(b, cmds, max(b.repeats, 5))
    for suffix in ("", " (baseline)"):
        plain_rs, first_rs = res.get("plain" + suffix), res.get("filter" + suffix)
        if not (plain_rs and first_rs and _ok(plain_rs) and _ok(first_rs)):
            continue
        plain, first = _med([r.wall for r in plain_rs]), _med([r.wall for r in first_rs])
        cpu = _med([r.cpu for r in first_rs]) - _med([r.cpu for r in plain_rs])
        # The parse alone in a new process (what the first filter adds before any run is read):
        # the CPU of importing the filter module and parsing the expression, median of 7.
        penv = dict(env_for(None), PYTHONPATH=b.baseline) if suffix else env_for(None)
        parse = []
        for _ in range(7):
            r = run_proc([sys.executable, "-c", PARSE_FIRST, FILTER_EXPR], penv, read_stdout=True, keep_stdout=True)
            try:
                parse.append(float(r.stdout.decode().split()[-1]))
            except (ValueError, IndexError):
                break
        row = Row("`runs --all -F ...` whole process (a first filter)" + (f": {b.baseline}" if suffix else ""),
                  "filter-first", n, first, g, extra={"plain": plain, "extra_s": first - plain, "extra_cpu": cpu},
                  note=f"`runs --all` {fmt(plain)}; the filter adds {(first - plain) * 1000:.0f} ms of wall time, "
                       f"{cpu * 1000:.0f} ms of CPU (budget ≤ 20 ms); medians of {len(plain_rs)}, interleaved"
                       + (f"; parsing the first filter in a new process: {_med(parse) * 1000:.1f} ms of CPU "
                          f"(imports included)" if parse else ""))
        row.extra["parse_cpu"] = _med(parse) if parse else None
        row.budget, row.ok = "≤ plain + 20 ms CPU", "yes" if cpu <= 0.020 else "NO"
        b.rows.append(row)
        log(row.note)


def op_summary(b: Bench, n: int, home: Path) -> None:
    """(e) runs_summary() in-process, warm (right after a first summary, inside the index's recheck
    interval, as the `list` warm row): groups of ten runs, flags equal but the seed, every scalar's
    mean, std, Student-t interval, min, max. Guild AI has nothing like it."""
    best, out = [], {}
    for _ in range(b.repeats if n <= 10_000 else 2):
        out = inproc(home, "summary")
        if "error" in out:
            b.add(Row("runs_summary() in-process", "summary", n, NA, None, note=f"runyard: {out['error']}"))
            return
        best.append(min(out["first"], out["second"]))
    b.add(Row("runs_summary() in-process, warm", "summary", n, min(best), None,
              extra={"rows": out.get("rows"), "runs": out.get("runs"), "first": out.get("first")},
              note=f"{out.get('rows')} groups of {out.get('runs')} completed runs; first call "
                   f"{out.get('first', 0) * 1000:.0f} ms, second {out.get('second', 0) * 1000:.0f} ms"))


# ---------------------------------------------------------------------------------------------
# Size-independent operations


def _project(b: Bench, name: str, files: dict[str, str]) -> tuple[Path, Path]:
    """A fresh project dir and an empty runs home for one measurement."""
    root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=b.workdir))
    proj, home = root / "proj", root / "home"
    proj.mkdir()
    home.mkdir()
    for fname, text in files.items():
        (proj / fname).write_text(text)
    return proj, home


def bare_trivial(b: Bench) -> float:
    """Median whole-process time of bare `python x.py` on print("hi") (cached)."""
    if b.bare_trivial is None:
        proj, _ = _project(b, "bare", {"x.py": 'print("hi")\n'})
        t, _ = timed_proc([sys.executable, "x.py"], env_for(None), 5, cwd=proj, stat="median",
                          warmup=1, read_stdout=True)
        b.bare_trivial = t if isinstance(t, float) else 0.0
    return b.bare_trivial


def op_trivial(b: Bench) -> None:
    """(e) a trivial script: bare python vs `runyard run x.py -y -q` vs `guild run x.py -y`."""
    bare = bare_trivial(b)
    proj, home_r = _project(b, "trivial-runyard", {"x.py": 'print("hi")\n'})
    t, note = timed_proc(runyard_cmd() + ["run", "x.py", "-y", "-q"], env_for(home_r), 5, cwd=proj,
                         stat="median", warmup=1, read_stdout=True)
    g: float | str = NA
    if b.guild:
        proj, home = _project(b, "trivial-guild", {"x.py": 'print("hi")\n'})
        g, _ = timed_proc([b.guild, "run", "x.py", "-y"], env_for(home), 5, cwd=proj, stat="median",
                          warmup=1, read_stdout=True)
    row = Row("run a trivial script (whole process)", "trivial", None, t, g)
    parts = [f"bare python {fmt(bare)}", "median of 5 after 1 warm-up"]
    if isinstance(t, float):
        row.extra["runyard_x"] = t / bare
        row.extra.update(rows=_count_runs(home_r), rows_expected=6)  # 1 warm-up + 5 timed runs
        parts.append(f"runyard {t / bare:.1f}× bare")
    else:
        parts.append(f"runyard: {note}")
    if isinstance(g, float):
        row.extra["guild_x"] = g / bare
        parts.append(f"Guild {g / bare:.1f}× bare (design.md: {DESIGN_GUILD[('trivial', None)]})")
    row.note = "; ".join(parts)
    b.add(row)
    if getattr(b, "trackers", None):  # --trackers: MLflow and Aim next to runyard (benchmarks/trackers.py)
        import trackers
        trackers.trivial_rows(b, b.trackers, sys.modules[__name__])


# The script reports its own CPU time at exit (RUSAGE_SELF: a forked child starts at zero), so
# the supervisor's share is the whole process tree's CPU (wait4) minus the script's.
CPU_REPORT = textwrap.dedent(
    """
    import atexit as _atexit, os as _os, resource as _resource
    def _report():
        ru = _resource.getrusage(_resource.RUSAGE_SELF)
        with open(_os.environ["BENCH_CPU_OUT"], "w") as f:
            f.write(repr(ru.ru_utime + ru.ru_stime))
    _atexit.register(_report)
    """
)

PRINT_HEAVY = CPU_REPORT + textwrap.dedent(
    """
    for i in range(200000):
        print(f"step: {i}")
        print(f"loss: {1.0 / (i + 1):.6f}")
    """
)

TRIVIAL_REPORTING = CPU_REPORT + 'print("hi")\n'

# A tqdm-style bar on stderr: 1,000 redraws a second for 10 s, each "\r" + the whole bar.
TQDM = CPU_REPORT + textwrap.dedent(
    """
    import sys, time
    total, start = 10000, time.monotonic()
    for i in range(total + 1):
        frac = i / total
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\\r{frac * 100:3.0f}%|{bar:<30}| {i}/{total} [{time.monotonic() - start:5.1f}s, loss={1 / (i + 1):.4f}]")
        sys.stderr.flush()
        wait = start + (i + 1) / 1000 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    sys.stderr.write("\\n")
    """
)

# As much output as the script can write: MB megabytes of 64-byte numbered lines, in 1 MiB writes.
FLOOD = CPU_REPORT + textwrap.dedent(
    """
    import os, sys, time
    block = b"".join(b"%09d flood line, some text to make it longer than a number\\n" % i for i in range(16384))
    out, worst = sys.stdout.buffer, 0.0
    for k in range(int(os.environ["FLOOD_MB"])):
        t = time.monotonic()
        out.write(block)
        out.flush()
        worst = max(worst, time.monotonic() - t)
    with open(os.environ["BENCH_CPU_OUT"] + ".worst", "w") as f:
        f.write(repr(worst))
    """
)


@dataclass
class CpuResult:
    """One whole-process run: wall seconds, CPU seconds of the whole tree and of the script."""

    wall: float
    cpu: float
    script: float | None
    returncode: int
    stderr: str = ""
    lines: int = 0
    max_rss: int = 0  # bytes, the top process (the supervisor), sampled
    extra: dict = field(default_factory=dict)


def cpu_proc(cmd: list[str], env: dict, cwd: Path, sample_rss: bool = False,
             timeout: float = PROC_TIMEOUT_S) -> CpuResult:
    """Run ``cmd`` with stdout read through a pipe (as a terminal would take it), and measure it:
    wall time, the CPU of the process and all it waited for (os.wait4), the script's own CPU."""
    fd, report = tempfile.mkstemp(prefix="cpu-", dir=cwd.parent)
    os.close(fd)
    env = dict(env, BENCH_CPU_OUT=report)
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        lines = 0
        assert proc.stdout is not None
        fdout = proc.stdout.fileno()
        peak = [0]
        done = threading.Event()

        def sample() -> None:  # the supervisor's memory, 20 times a second
            while not done.wait(0.05):
                peak[0] = max(peak[0], _rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True) if sample_rss else None
        if sampler:
            sampler.start()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        while True:
            chunk = os.read(fdout, 1 << 20)
            if not chunk:
                break
            lines += chunk.count(b"\n")
        _, status, ru = os.wait4(proc.pid, 0)
        timer.cancel()
        done.set()
        rss = peak[0]
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        err.seek(0)
        stderr = err.read()[-4000:].decode("utf-8", "replace")
    script = None
    extra = {}
    try:
        script = float(Path(report).read_text())
        extra["worst_write"] = float(Path(report + ".worst").read_text())
    except (OSError, ValueError):
        pass
    for path in (report, report + ".worst"):
        try:
            os.unlink(path)
        except OSError:
            pass
    return CpuResult(wall, ru.ru_utime + ru.ru_stime, script, proc.returncode, stderr, lines, rss, extra)


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _med(values: list) -> float:
    return statistics.median(values) if values else float("nan")


def interleaved(b: Bench, commands: dict[str, tuple[list[str], dict, Path]], repeats: int,
                **kw) -> dict[str, list[CpuResult]]:
    """Each command ``repeats`` times, taking turns (load on the machine hits them alike);
    a command that fails is dropped (its last result kept)."""
    results: dict[str, list[CpuResult]] = {k: [] for k in commands}
    failed: dict[str, CpuResult] = {}
    for _ in range(repeats):
        for name, (cmd, env, cwd) in commands.items():
            if name in failed:
                continue
            r = cpu_proc(cmd, env, cwd, **kw)
            if r.returncode != 0:
                failed[name] = r
                log(f"{name}: exit {r.returncode}: {last_line(r.stderr)}")
                continue
            results[name].append(r)
    for name, r in failed.items():
        results[name] = [r]
    return results


def _ok(rs: list[CpuResult]) -> bool:
    return bool(rs) and rs[0].returncode == 0


def count_event_scalars(run_dir: Path, tag: str) -> int:
    """How many ``tag`` values the event files under ``run_dir/.guild`` hold (own TFRecord reader)."""
    from tensorboardX.proto import event_pb2

    count = 0
    for path in (run_dir / ".guild").glob("*tfevents*"):
        data = path.read_bytes()
        i = 0
        while i + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[i:i + 8])
            ev = event_pb2.Event()
            ev.ParseFromString(data[i + 12:i + 12 + length])
            i += 12 + length + 4
            count += sum(1 for v in ev.summary.value if v.tag == tag)
    return count


def op_print(b: Bench) -> None:
    """(f) 400,000 printed lines (200,000 step/loss pairs), whole process, stdout read from a
    pipe: bare `python p.py` as users run it (no PYTHONUNBUFFERED), `runyard run` with echo on
    and off (-q), `guild run`, interleaved; medians of wall time and of CPU. The supervisor's
    CPU share = (the run's CPU - the script's own) / the script's, with and without runyard's
    fixed start-up (the same for a trivial script)."""
    files = {"p.py": PRINT_HEAVY, "t.py": TRIVIAL_REPORTING}
    proj, home = _project(b, "print", files)
    tproj, thome = _project(b, "print-trivial", files)
    cmds = {
        "bare": ([sys.executable, "p.py"], env_for(None), proj),
        "echo": (runyard_cmd() + ["run", "p.py", "-y"], env_for(home), proj),
        "quiet": (runyard_cmd() + ["run", "p.py", "-y", "-q"], env_for(home), proj),
        "trivial": (runyard_cmd() + ["run", "t.py", "-y"], env_for(thome), tproj),
    }
    floor = [sys.executable, str(Path(__file__).with_name("floor_supervisor.py"))]
    for mode in ("tee", "convert"):  # the least any Python supervisor must do (floor_supervisor.py)
        for script in ("p.py", "t.py"):
            cmds[f"floor {mode} {script}"] = (floor + [mode, str(proj.parent / f"floor-{mode}"), "--",
                                                       sys.executable, script], env_for(None), proj)
    if b.baseline:  # another checkout's runyard (--baseline SRC), taking turns with this one
        bproj, bhome = _project(b, "print-baseline", files)
        btproj, bthome = _project(b, "print-baseline-trivial", files)
        benv = lambda home: dict(env_for(home), PYTHONPATH=b.baseline)  # noqa: E731
        cmds.update({
            "echo (baseline)": (runyard_cmd() + ["run", "p.py", "-y"], benv(bhome), bproj),
            "quiet (baseline)": (runyard_cmd() + ["run", "p.py", "-y", "-q"], benv(bhome), bproj),
            "trivial (baseline)": (runyard_cmd() + ["run", "t.py", "-y"], benv(bthome), btproj),
        })
    reps = max(b.repeats, 5)
    res = interleaved(b, cmds, reps)
    g: float | str = NA
    guild_count = None
    gres: list[CpuResult] = []
    if b.guild:
        gproj, ghome = _project(b, "print-guild", files)
        gres = interleaved(b, {"guild": ([b.guild, "run", "p.py", "-y"], env_for(ghome), gproj)},
                           min(b.repeats, 3))["guild"]
        if _ok(gres):
            g = _med([r.wall for r in gres])
            try:
                runs = sorted((ghome / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
                guild_count = count_event_scalars(runs[-1], "loss")
            except Exception:
                guild_count = None
    if not (_ok(res["bare"]) and _ok(res["echo"])):
        why = res["echo"][0].stderr if res["echo"] else ""
        b.add(Row("print-heavy script, 400k lines (whole process)", "print", None, NA, g,
                  note=f"runyard: {last_line(why)}"))
        return
    bare = _med([r.wall for r in res["bare"]])
    fixed = _med([r.cpu - (r.script or 0) for r in res["trivial"]]) if _ok(res["trivial"]) else 0.0
    parts = [f"bare python {fmt(bare)} (CPU {_med([r.cpu for r in res['bare']]):.3f} s)", f"median of {reps}, interleaved"]
    extra: dict = {"bare": bare, "runyard_fixed_cpu": fixed}
    t = _med([r.wall for r in res["echo"]])
    for mode in ("echo", "quiet"):
        rs = res[mode]
        if not _ok(rs) or any(r.script is None for r in rs):
            continue
        wall = _med([r.wall for r in rs])
        script = _med([r.script for r in rs])
        sup = _med([r.cpu - r.script for r in rs])
        share, watch = sup / script, (sup - fixed) / script
        extra[mode] = {"wall": wall, "x": wall / bare, "script_cpu": script, "runyard_cpu": sup,
                       "share": share, "watch_share": watch}
        parts.append(f"echo {'on' if mode == 'echo' else 'off'}: {fmt(wall)} = {wall / bare:.2f}× bare, runyard's CPU "
                     f"{sup:.3f} s = {share:.0%} of the script's {script:.3f} s ({watch:.0%} beyond its fixed "
                     f"{fixed:.3f} s start-up)")
    row = Row("print-heavy script, 400k lines (whole process)", "print", None, t, g, extra=extra)
    row.extra["runyard_x"] = t / bare
    out = inproc(home, "scalars")
    if "error" in out:
        parts.append(f"ls_scalars: {out['error']}")
    else:
        row.extra["runyard_loss_rows"] = out.get("loss_rows")
        row.extra.update(rows=out.get("loss_rows"), rows_expected=200_000)
        parts.append(f"runyard recorded {out.get('loss_rows')}/200000 loss values (last run)")
    if isinstance(g, float):
        row.extra["guild_x"] = g / bare
        gsup = _med([r.cpu - (r.script or 0) for r in gres])
        gscript = _med([r.script or float("nan") for r in gres])
        row.extra["guild_share"] = gsup / gscript
        parts.append(f"Guild {g / bare:.1f}× bare, its CPU {gsup:.2f} s = {gsup / gscript:.0%} of the script's "
                     f"(design.md: {DESIGN_GUILD[('print', None)]})")
        if guild_count is not None:
            row.extra["guild_loss_events"] = guild_count
            parts.append(f"Guild recorded {guild_count}/200000")
    row.note = "; ".join(parts)
    b.add(row)
    _floor_rows(b, res, extra)
    for mode in ("echo (baseline)", "quiet (baseline)"):
        rs = res.get(mode)
        if not rs or not _ok(rs) or any(r.script is None for r in rs):
            continue
        bfixed = _med([r.cpu - (r.script or 0) for r in res["trivial (baseline)"]])
        wall, script = _med([r.wall for r in rs]), _med([r.script for r in rs])
        sup = _med([r.cpu - r.script for r in rs])
        extra[mode] = {"wall": wall, "x": wall / bare, "script_cpu": script, "runyard_cpu": sup,
                       "share": sup / script, "watch_share": (sup - bfixed) / script}
        row = Row(f"  {mode}: {b.baseline}", "print-baseline", None, wall, NA, extra=extra[mode],
                  note=f"{wall / bare:.2f}× bare; runyard's CPU {sup:.3f} s = {sup / script:.0%} of the script's "
                       f"{script:.3f} s ({(sup - bfixed) / script:.0%} beyond its fixed {bfixed:.3f} s start-up)")
        b.rows.append(row)
        log(row.op + ": " + row.note)
    for mode in ("echo", "quiet"):
        if mode in extra:
            share = Row(f"  supervisor CPU / script CPU, echo {'on' if mode == 'echo' else 'off'}", "print-share",
                        None, extra[mode]["runyard_cpu"], NA,
                        note=f"{extra[mode]['share']:.0%} of the script's CPU; {extra[mode]['watch_share']:.0%} "
                             f"without runyard's fixed start-up (budget ≤ 25%)")
            share.extra["share"] = extra[mode]["watch_share"]
            share.budget, share.ok = "≤ 25% of the script", "yes" if extra[mode]["watch_share"] <= 0.25 else "NO"
            b.rows.append(share)
            log(share.op + ": " + share.note)


def _floor_rows(b: Bench, res: dict[str, list[CpuResult]], extra: dict) -> None:
    """The floors (benchmarks/floor_supervisor.py) next to runyard's supervisor, from the same
    interleaved runs: each one's CPU beyond its own start-up (the same command on a one-line
    script) as a share of the script's CPU, and runyard's as a multiple of it."""
    for mode, what in (("tee", "copies the output (no scalars)"),
                       ("convert", "copies it and converts every printed number with float()")):
        rs, trivial = res.get(f"floor {mode} p.py"), res.get(f"floor {mode} t.py")
        if not (rs and trivial and _ok(rs) and _ok(trivial)) or any(r.script is None for r in rs + trivial):
            continue
        fixed = _med([r.cpu - r.script for r in trivial])
        script = _med([r.script for r in rs])
        share = (_med([r.cpu - r.script for r in rs]) - fixed) / script
        whole = _med([r.wall for r in rs])
        wall = whole - _med([r.wall for r in trivial])
        extra[f"floor_{mode}"] = {"share": share, "wall_beyond_start": wall, "x": whole / extra["bare"]}
        note = (f"{share:.0%} of the script's CPU beyond its own start-up; whole process "
                f"{whole / extra['bare']:.2f}× bare python")
        if "echo" in extra:
            note += (f"; runyard's supervisor {extra['echo']['watch_share']:.0%} = "
                     f"{extra['echo']['watch_share'] / share:.1f}× this floor, {extra['echo']['x']:.2f}× bare python")
        row = Row(f"  floor: Python that {what}", f"print-floor-{mode}", None, wall, NA,
                  extra=extra[f"floor_{mode}"], note=note)
        b.rows.append(row)
        log(row.op + ": " + row.note)


def op_tqdm(b: Bench) -> None:
    """(i) A tqdm-style bar on stderr redrawing 1,000 times a second for 10 s: the supervisor's
    CPU as a share of one core (runyard vs Guild), and the lines its output keeps."""
    files = {"bar.py": TQDM}
    proj, home = _project(b, "tqdm", files)
    rs = interleaved(b, {"runyard": (runyard_cmd() + ["run", "bar.py", "-y"], env_for(home), proj)}, 1)["runyard"]
    g: float | str = NA
    gnote = ""
    if b.guild:
        gproj, ghome = _project(b, "tqdm-guild", files)
        gr = interleaved(b, {"guild": ([b.guild, "run", "bar.py", "-y"], env_for(ghome), gproj)}, 1)["guild"]
        if _ok(gr) and gr[0].script is not None:
            g = gr[0].wall
            gnote = f"; Guild: {(gr[0].cpu - gr[0].script) / gr[0].wall:.1%} of a core"
    if not _ok(rs) or rs[0].script is None:
        b.add(Row("tqdm bar, 1,000 redraws/s for 10 s", "tqdm", None, NA, g, note=last_line(rs[0].stderr if rs else "")))
        return
    r = rs[0]
    core = (r.cpu - r.script) / r.wall
    try:
        run_dir = next((home / "runs").iterdir())
        lines = (run_dir / ".guild" / "output").read_bytes().count(b"\n")
    except (OSError, StopIteration):
        lines = -1
    row = Row("tqdm bar, 1,000 redraws/s for 10 s", "tqdm", None, r.wall, g,
              extra={"core_share": core, "output_lines": lines, "runyard_cpu": r.cpu - r.script},
              note=f"runyard's CPU {r.cpu - r.script:.2f} s = {core:.1%} of a core (budget < 10%); "
                   f"output keeps {lines} line(s) of 10,001 drawings{gnote}")
    row.budget, row.ok = "< 10% of a core", "yes" if core < 0.10 else "NO"
    b.rows.append(row)
    log(f"tqdm: {row.note}")


def op_flood(b: Bench) -> None:
    """(j) 1 GB of output as fast as the script can write it (-q): time, runyard's CPU, the
    supervisor's peak memory, the script's longest wait on a write; every byte checked."""
    mb = int(os.environ.get("RUNYARD_BENCH_FLOOD_MB", "1024"))
    files = {"flood.py": FLOOD}
    env_extra = {"FLOOD_MB": str(mb)}
    proj, home = _project(b, "flood", files)
    bare = cpu_proc([sys.executable, "flood.py"], dict(env_for(None), **env_extra), proj)
    r = cpu_proc(runyard_cmd() + ["run", "flood.py", "-y", "-q"], dict(env_for(home), **env_extra), proj,
                 sample_rss=True)
    g: float | str = NA
    gnote = ""
    if b.guild:
        gproj, ghome = _project(b, "flood-guild", files)
        gr = cpu_proc([b.guild, "run", "flood.py", "-y"], dict(env_for(ghome), **env_extra), gproj,
                      timeout=GUILD_LIMIT_S)
        if gr.returncode == 0:
            g = gr.wall
            gnote = f"; Guild: {gr.wall / bare.wall:.1f}× bare, its longest write {gr.extra.get('worst_write', 0):.2f} s"
        else:
            gnote = f"; Guild: exit {gr.returncode} (limit {GUILD_LIMIT_S:.0f} s)"
    if r.returncode != 0:
        b.add(Row(f"{mb} MB of output, as fast as possible", "flood", None, NA, g, note=last_line(r.stderr)))
        return
    size = -1
    try:
        run_dir = next((home / "runs").iterdir())
        out = run_dir / ".guild" / "output"
        size = out.stat().st_size
        index = (run_dir / ".guild" / "output.index").stat().st_size // 9
    except (OSError, StopIteration):
        index = -1
    whole = size == mb << 20 and index == (mb << 20) // 64
    row = Row(f"{mb} MB of output, as fast as possible", "flood", None, r.wall, g,
              extra={"bare": bare.wall, "x": r.wall / bare.wall, "max_rss": r.max_rss,
                     "worst_write": r.extra.get("worst_write"), "bytes": size, "index_records": index,
                     "runyard_cpu": r.cpu - (r.script or 0)},
              note=f"bare python to a pipe {fmt(bare.wall)}; runyard {r.wall / bare.wall:.2f}× bare, CPU "
                   f"{r.cpu - (r.script or 0):.2f} s, supervisor peak RSS {r.max_rss / 2**20:.0f} MB, the script's "
                   f"longest write {r.extra.get('worst_write', float('nan')):.3f} s; output "
                   f"{'whole' if whole else f'{size} bytes, {index} index records (NOT WHOLE)'}{gnote}")
    row.ok = "yes" if whole else "NO"
    b.rows.append(row)
    log(f"flood: {row.note}")


def _count_runs(home: Path, trials_only: bool = False) -> int:
    """Runs in ``home/runs`` (only trials: not batch runs, whose operation ends in ``+``)."""
    count = 0
    try:
        for p in (home / "runs").iterdir():
            try:
                opref = (p / ".guild" / "opref").read_text()
            except OSError:
                continue
            op = opref.split()[-1] if opref.split() else ""
            count += not (trials_only and "+" in op)
    except OSError:
        pass
    return count


def op_batch(b: Bench) -> None:
    """(g) 100 trials of a trivial script with --workers 1; 8×2 s sleeps with --workers 2 vs 1."""
    bare = bare_trivial(b)
    files = {"x.py": 'i = 0\nprint("hi")\n'}
    grid = "i=[" + ",".join(str(k) for k in range(1, 101)) + "]"
    proj, home = _project(b, "batch-runyard", files)
    r = run_proc(runyard_cmd() + ["run", "x.py", grid, "-y", "-q", "--workers", "1"], env_for(home),
                 cwd=proj, read_stdout=True)
    t: float | str = r.seconds if r.returncode == 0 else NA
    g: float | str = NA
    gtrials = 0
    if b.guild:
        gproj, ghome = _project(b, "batch-guild", files)
        gr = run_proc([b.guild, "run", "x.py", grid, "-y"], env_for(ghome), cwd=gproj, read_stdout=True)
        if gr.returncode == 0:
            g = gr.seconds
            gtrials = _count_runs(ghome, trials_only=True)  # Guild moves the batch run to trash
    row = Row("100 trials of a trivial script, --workers 1", "batch", None, t, g)
    parts = []
    if isinstance(t, float):
        trials = _count_runs(home, trials_only=True)
        per = (t - 100 * bare) / 100
        row.extra.update(runyard_trials=trials, runyard_overhead_per_trial=per, rows=trials, rows_expected=100)
        parts.append(f"runyard {per * 1000:.0f} ms/trial over bare ({trials} trials"
                     f"{', expected 100!' if trials != 100 else ''})")
    else:
        parts.append(f"runyard: exit {r.returncode}: {last_line(r.stderr)}")
    if isinstance(g, float):
        gper = (g - 100 * bare) / 100
        row.extra.update(guild_trials=gtrials, guild_overhead_per_trial=gper)
        parts.append(f"Guild {gper * 1000:.0f} ms/trial ({gtrials} trials, sequential)")
    row.note = "; ".join(parts)
    b.add(row)

    sleep = {"s.py": "import time\ni = 0\ntime.sleep(2)\n"}
    grid8 = "i=[1,2,3,4,5,6,7,8]"
    times = {}
    for workers in (2, 1):
        proj, home = _project(b, f"workers{workers}", sleep)
        r = run_proc(runyard_cmd() + ["run", "s.py", grid8, "-y", "-q", "--workers", str(workers)],
                     env_for(home), cwd=proj, read_stdout=True)
        times[workers] = r.seconds if r.returncode == 0 and _count_runs(home) >= 8 else None
        if times[workers] is None:
            break
    row = Row("8 trials of a 2 s sleep, --workers 2", "workers", None, times.get(2) or NA, NA)
    if times.get(2) and times.get(1):
        row.extra.update(sequential=times[1], speedup=times[1] / times[2], ratio=times[2] / times[1])
        row.note = f"--workers 1: {fmt(times[1])}; speedup {times[1] / times[2]:.2f}× (ideal 2×); Guild has no local workers"
    else:
        row.note = "runyard: --workers not available" if times.get(2) is None else ""
    b.add(row)


SERIES_POINTS = 1_000_000
SERIES = textwrap.dedent(
    """
    import json, sys, time
    from runyard.store.tfevents import run_series
    t0 = time.perf_counter()
    series = run_series(sys.argv[1])
    t = time.perf_counter() - t0
    steps, values = series[(".guild", "loss")]
    print(json.dumps({"first": t, "rows": len(values)}))
    """
)


def op_series(b: Bench) -> None:
    """(h) the web view's chart data: run_series() of a 1,000,000-point scalar series, the
    first read of its event file in a fresh process (what a chart waits for)."""
    run_dir = b.workdir / "series-run"
    (run_dir / ".guild").mkdir(parents=True, exist_ok=True)
    from runyard.store.tfevents import EventWriter

    w = EventWriter(run_dir / ".guild")
    for start in range(0, SERIES_POINTS, 10_000):
        w.add_scalars([("loss", 1.0 / (i + 1), i) for i in range(start, start + 10_000)])
    w.close()
    times, rows = [], None
    for _ in range(b.repeats):
        r = run_proc([sys.executable, "-c", SERIES, str(run_dir)], env_for(None), read_stdout=True, keep_stdout=True)
        try:
            out = json.loads(r.stdout.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            b.add(Row("1,000,000-point series read for a chart", "series", None, NA, NA,
                      note=f"exit {r.returncode}: {last_line(r.stderr)}"))
            return
        times.append(out["first"])
        rows = out["rows"]
    b.add(Row("1,000,000-point series read for a chart", "series", None, min(times), NA,
              extra={"rows": rows, "rows_expected": SERIES_POINTS},
              note=f"{rows} points; runyard.store.tfevents.run_series, first read in a new process, min of {len(times)}"))


# ---------------------------------------------------------------------------------------------
# Output


def table(rows: list[Row]) -> str:
    """The results as an aligned text table."""
    head = ["operation", "N", "runyard", "Guild", "Guild/runyard", "budget", "OK?"]
    body = []
    for r in rows:
        ratio = r.ratio
        body.append([r.op, f"{r.size:,}" if r.size else "-", fmt(r.runyard), fmt(r.guild),
                     f"{ratio:.1f}×" if ratio else "—", r.budget, r.ok])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    for r, cells in zip(rows, body):
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)))
        if r.note:
            lines.append("    " + r.note)
    return "\n".join(lines)


def machine_info(guild: str | None) -> dict:
    """Versions and the machine, for the JSON file."""
    info = {"python": sys.version.split()[0], "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%S")}
    try:
        info["runyard_commit"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                                capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    if guild:
        r = run_proc([guild, "--version"], env_for(None), read_stdout=True, keep_stdout=True, timeout=60)
        info["guild"] = r.stdout.decode().strip()
    return info


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print the table, write the JSON results; exit 0 unless interrupted."""
    p = argparse.ArgumentParser(description="runyard vs Guild AI 0.9 benchmarks")
    p.add_argument("--sizes", default="1000,10000,100000", help="comma-separated run counts")
    p.add_argument("--guild", help="the guild executable (default: the scripts/guild-venv.sh venv)")
    p.add_argument("--no-guild", action="store_true", help="measure runyard only")
    p.add_argument("--only", help=f"comma-separated operations: {','.join(OPS)}")
    p.add_argument("--repeats", type=int, default=3, help="repeats for min-of timings (default 3)")
    p.add_argument("--baseline", help="the capture rows (print) also for the runyard in this src/ directory, "
                                      "interleaved (e.g. a checkout of main: ../main/src)")
    p.add_argument("--trackers", nargs="?", const="", metavar="PYTHON",
                   help="also time MLflow and Aim on the list and trivial rows, with this python (default: "
                        "the scripts/trackers-venv.sh venv, made if missing); rows say 'not installed' without them")
    a = p.parse_args(argv)

    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    compile_runyard()
    only = [o.strip() for o in a.only.split(",")] if a.only else list(OPS)
    unknown = [o for o in only if o not in OPS]
    if unknown:
        p.error(f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPS)}")
    guild = None if a.no_guild else find_guild(a.guild)
    b = Bench(guild=guild, repeats=max(1, a.repeats),
              baseline=str(Path(a.baseline).resolve()) if a.baseline else None)
    if a.trackers is not None:
        import trackers
        b.trackers = trackers.Trackers.find(a.trackers or None)  # type: ignore[attr-defined]
    builds = {}
    try:
        sized = [o for o in only if o in SIZED]
        for n in sizes if sized else []:
            home = make_home.build_home(n)
            builds[n] = make_home.build_info(home)
            log(f"home-{n}: {home} (built in {builds[n].get('build_seconds', '?')} s)")
            for op in sized:
                try:
                    globals()[f"op_{op}"](b, n, home)
                except Exception as e:  # never crash: report and go on
                    b.add(Row(op, op, n, NA, NA, note=f"harness error: {e!r}"[:200]))
        for op in [o for o in only if o not in sized]:
            try:
                globals()[f"op_{op}"](b)
            except Exception as e:
                b.add(Row(op, op, None, NA, NA, note=f"harness error: {e!r}"[:200]))
    except KeyboardInterrupt:
        log("interrupted; results so far:")
    finally:
        shutil.rmtree(b.workdir, ignore_errors=True)

    print(table(b.rows))
    out = make_home.bench_dir() / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"machine": {**machine_info(guild), **({"trackers": b.trackers.versions} if getattr(b, "trackers", None) else {})},
            "homes": builds,
            "rows": [dict(asdict(r), ratio=r.ratio) for r in b.rows]}
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
