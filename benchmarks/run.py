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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import make_home  # noqa: E402

NA = "n/a (not available)"
SKIPPED = "skipped"
OPS = ("list", "runs", "compare", "filter", "summary", "trivial", "print", "batch", "series")
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
    ("print", None): ("≤ 1.3× bare", 1.3, "x"),
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


PRINT_HEAVY = textwrap.dedent(
    """
    for i in range(200000):
        print(f"step: {i}")
        print(f"loss: {1.0 / (i + 1):.6f}")
    """
)


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
    """(f) 400,000 printed lines: bare python vs runyard run vs guild run, all read from a pipe."""
    files = {"p.py": PRINT_HEAVY}
    proj, _ = _project(b, "print-bare", files)
    bare, _ = timed_proc([sys.executable, "p.py"], env_for(None), 3, cwd=proj, stat="median", read_stdout=True)
    unbuf_env = dict(env_for(None), PYTHONUNBUFFERED="1")
    bare_unbuf: float | str
    bare_unbuf, _ = timed_proc([sys.executable, "p.py"], unbuf_env, 3, cwd=proj, stat="median", read_stdout=True)
    proj, home = _project(b, "print-runyard", files)
    t, note = timed_proc(runyard_cmd() + ["run", "p.py", "-y"], env_for(home), 3, cwd=proj,
                         stat="median", read_stdout=True)
    g: float | str = NA
    guild_count = None
    if b.guild:
        gproj, ghome = _project(b, "print-guild", files)
        first = run_proc([b.guild, "run", "p.py", "-y"], env_for(ghome), cwd=gproj, read_stdout=True)
        if first.returncode == 0:
            reps = 2 if first.seconds < 60 else 0
            more, _ = (timed_proc([b.guild, "run", "p.py", "-y"], env_for(ghome), reps, cwd=gproj,
                                  read_stdout=True, stat="median") if reps else (None, ""))
            g = statistics.median([first.seconds] + ([more] * reps if isinstance(more, float) else []))
            try:
                runs = sorted((ghome / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
                guild_count = count_event_scalars(runs[-1], "loss")
            except Exception:
                guild_count = None
    row = Row("print-heavy script, 400k lines (whole process)", "print", None, t, g)
    parts = [f"bare python {fmt(bare)} (unbuffered: {fmt(bare_unbuf)})"]
    if isinstance(t, float) and isinstance(bare, float):
        row.extra["runyard_x"] = t / bare
        parts.append(f"runyard {t / bare:.2f}× bare")
        if isinstance(bare_unbuf, float):
            row.extra["runyard_x_unbuffered"] = t / bare_unbuf
            parts.append(f"{t / bare_unbuf:.2f}× unbuffered bare")
        out = inproc(home, "scalars")
        if "error" in out:
            parts.append(f"ls_scalars: {out['error']}")
        else:
            row.extra["runyard_scalar_rows"] = out.get("rows")
            row.extra["runyard_loss_rows"] = out.get("loss_rows")
            row.extra.update(rows=out.get("loss_rows"), rows_expected=200_000)
            parts.append(f"runyard recorded {out.get('loss_rows')}/200000 loss values "
                         f"({out.get('rows')} ls_scalars(1) rows)")
    elif not isinstance(t, float):
        parts.append(f"runyard: {note}")
    if isinstance(g, float) and isinstance(bare, float):
        row.extra["guild_x"] = g / bare
        parts.append(f"Guild {g / bare:.1f}× bare, "
                     + (f"{g / bare_unbuf:.1f}× unbuffered " if isinstance(bare_unbuf, float) else "")
                     + f"(design.md: {DESIGN_GUILD[('print', None)]})")
        if guild_count is not None:
            row.extra["guild_loss_events"] = guild_count
            parts.append(f"Guild recorded {guild_count}/200000")
    row.note = "; ".join(parts)
    b.add(row)


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
    a = p.parse_args(argv)

    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    compile_runyard()
    only = [o.strip() for o in a.only.split(",")] if a.only else list(OPS)
    unknown = [o for o in only if o not in OPS]
    if unknown:
        p.error(f"unknown operation(s) {', '.join(unknown)}; choose from {', '.join(OPS)}")
    guild = None if a.no_guild else find_guild(a.guild)
    b = Bench(guild=guild, repeats=max(1, a.repeats))
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
    data = {"machine": machine_info(guild), "homes": builds,
            "rows": [dict(asdict(r), ratio=r.ratio) for r in b.rows]}
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
