"""Build a synthetic runs home of N runs in Guild AI 0.9's on-disk format, for benchmarks.

    python benchmarks/make_home.py 10000          # prints the home's path
    python benchmarks/make_home.py 1000 --force   # rebuild

Homes are cached under ``${RUNYARD_BENCH_DIR:-~/.cache/runyard/bench}/home-N`` and reused when
complete (a marker file is written last, after an atomic rename of the finished directory).

Each run has ``.guild/opref``, ``.guild/attrs/{id, initialized, started, stopped, exit_status,
flags, label, cmd, op, sourcecode_digest, host, user, random_seed}`` (plus ``tags``, ``marked``,
``comments`` on some), ``.guild/output`` + ``.guild/output.index``, ``.guild/manifest`` and a
TensorBoard event file in ``.guild/`` with ``loss`` and ``acc`` at steps 1-3. Runs come in groups
of ten that share their operation and flags but ``seed`` (0-9), as ``--seeds 10`` makes them:
100,000 runs are 10,000 groups for ``runs_summary``. Runs are generated
deterministically from their index, so a home of N runs is the same on every machine (up to the
wall times inside event records).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path

FORMAT_VERSION = 3  # 3: runs come in groups of GROUP_SIZE (same flags and operation, seed 0-9)
MARKER = ".runyard-bench-complete"
N_TEMPLATES = 64
GROUP_SIZE = 10  # runs 10k..10k+9 share their flags but the seed: 100,000 runs are 10,000 groups
CHUNK = 500

# 2026-01-01T00:00:00Z in microseconds; run i starts about i * 37 s later.
BASE_US = 1767225600 * 1_000_000
PROJECT_DIR = "/bench/proj"
PYTHON = "/usr/bin/python3"
OPTIMIZERS = ("adam", "sgd", "rmsprop")
UNITS = (16, 32, 64, 128, 256, 512)
DIGESTS = tuple(hashlib.md5(f"train.py v{i}".encode()).hexdigest() for i in range(5))
SOURCE = "epochs = 10\nlr = 0.01\noptimizer = 'adam'\nunits = 64\n\nfor step in range(1, 4):\n    print(f'step: {step}')\n"
SOURCE_SHA1 = hashlib.sha1(SOURCE.encode()).hexdigest()

OP_ATTR = f"""delete-on-success: false
deps: []
flag-null-labels: {{}}
flags-extra: {{}}
label-template: null
op-cmd:
  cmd-args:
  - ${{python_exe}}
  - -um
  - guild.op_main
  - train
  - __flag_args__
  cmd-env:
    FLAGS_DEST: globals
    GUILD_PLUGINS: ''
    PROJECT_DIR: {PROJECT_DIR}
  cmd-flags:
    epochs: {{}}
    lr: {{}}
    optimizer: {{}}
    seed: {{}}
    units: {{}}
  flags-dest: globals
output-scalars: null
python-requires: null
sourcecode:
  dest: .
"""


def bench_dir() -> Path:
    """The directory holding cached homes and results (``$RUNYARD_BENCH_DIR`` or the default)."""
    return Path(os.environ.get("RUNYARD_BENCH_DIR") or Path.home() / ".cache/runyard/bench")


def home_path(n: int) -> Path:
    """Where the cached home of ``n`` runs lives."""
    return bench_dir() / f"home-{n}"


def is_complete(home: Path, n: int) -> bool:
    """True if ``home`` is a finished synthetic home of ``n`` runs of the current format."""
    try:
        info = json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return info.get("runs") == n and info.get("format") == FORMAT_VERSION


# ---------------------------------------------------------------------------------------------
# Scalars: event files are made by a real writer (runyard's own if present, else tensorboardX)
# once per template, then their bytes are copied into runs.


def _template_values(k: int) -> dict:
    rng = random.Random(1000 + k)
    final = round(rng.uniform(0.05, 1.0), 4)
    loss = [round(final * 3.0, 4), round(final * 1.7, 4), final]
    acc_final = round(min(0.99, 1.0 - final / 1.2 + rng.uniform(-0.03, 0.03)), 4)
    acc = [round(acc_final * 0.6, 4), round(acc_final * 0.85, 4), acc_final]
    return {"loss": loss, "acc": acc}


def _write_events(logdir: str, values: dict) -> str:
    """Write one event file of ``values`` into ``logdir``; return which writer did it."""
    try:
        from runyard.store.tfevents import EventWriter  # type: ignore[import-not-found]

        writer, used = EventWriter(logdir), "runyard.store.tfevents.EventWriter"
    except Exception:
        from tensorboardX import SummaryWriter

        writer, used = SummaryWriter(logdir), "tensorboardX.SummaryWriter"
    for step in range(3):
        writer.add_scalar("loss", values["loss"][step], step + 1)
        writer.add_scalar("acc", values["acc"][step], step + 1)
    writer.close()
    return used


def make_templates() -> tuple[list[dict], list[bytes], str]:
    """Return (values, event-file bytes, writer name) for ``N_TEMPLATES`` scalar sets."""
    values, blobs, used = [], [], ""
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(N_TEMPLATES):
            vals = _template_values(k)
            logdir = os.path.join(tmp, str(k))
            os.mkdir(logdir)
            used = _write_events(logdir, vals)
            files = [f for f in os.listdir(logdir) if "tfevents" in f]
            if len(files) != 1:
                raise RuntimeError(f"event writer made {files!r} in {logdir}")
            with open(os.path.join(logdir, files[0]), "rb") as f:
                blobs.append(f.read())
            values.append(vals)
    return values, blobs, used


# ---------------------------------------------------------------------------------------------
# One run


_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_=./ -]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _yaml_str(s: str) -> str:
    """A YAML scalar for ``s``: plain when it reads back as the same string, else single-quoted."""
    if _PLAIN.fullmatch(s) and not s.endswith(" ") and s.lower() not in _RESERVED:
        return s
    return "'" + s.replace("'", "''") + "'"


def _run_spec(i: int) -> dict:
    """Run ``i``: its own draws (status, times, label, tags, scalars template...), and the flags
    and operation of its group (``i // GROUP_SIZE``) with ``seed = i % GROUP_SIZE``."""
    spec = _own_spec(i)
    grng = random.Random(f"group-{i // GROUP_SIZE}")
    flags = {
        "epochs": grng.randrange(1, 51),
        "lr": round(10 ** grng.uniform(-3.7, -1.0), 6),
        "optimizer": grng.choice(OPTIMIZERS),
        "seed": i % GROUP_SIZE,
        "units": grng.choice(UNITS),
    }
    if spec["label"] == " ".join(f"{k}={v}" for k, v in sorted(spec["flags"].items())):
        spec["label"] = " ".join(f"{k}={v}" for k, v in sorted(flags.items()))
    spec["flags"] = flags
    spec["operation"] = "train.py" if grng.random() < 0.9 else "eval.py"
    return spec


def _own_spec(i: int) -> dict:
    rng = random.Random(i)
    run_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
    started = BASE_US + i * 37_000_000 + rng.randrange(1_000_000)
    r = rng.random()
    if r < 0.85:
        status, exit_status = "completed", 0
    elif r < 0.94:
        status, exit_status = "error", 1
    elif r < 0.99:
        status, exit_status = "terminated", -15
    else:
        status, exit_status = "staged", None
    flags = {
        "epochs": rng.randrange(1, 51),
        "lr": round(10 ** rng.uniform(-3.7, -1.0), 6),
        "optimizer": rng.choice(OPTIMIZERS),
        "units": rng.choice(UNITS),
    }
    label = " ".join(f"{k}={v}" for k, v in sorted(flags.items()))
    if rng.random() < 0.03:
        label = rng.choice(("best", "baseline", "try again", "candidate"))
    tags = []
    if rng.random() < 0.05:
        tags = rng.choice((["good"], ["v1", "baseline"], ["sweep"]))
    return {
        "i": i,
        "id": run_id,
        "operation": "train.py" if rng.random() < 0.9 else "eval.py",
        "initialized": started - rng.randrange(50_000, 200_000),
        "started": started,
        "stopped": None if status == "staged" else started + rng.randrange(1_000_000, 600_000_000),
        "status": status,
        "exit_status": exit_status,
        "flags": flags,
        "label": label,
        "tags": tags,
        "marked": rng.random() < 0.02,
        "comment": rng.random() < 0.01,
        "digest": rng.choice(DIGESTS),
        "random_seed": rng.randrange(2**32),
        "template": rng.randrange(N_TEMPLATES),
    }


def _write(path: str, data: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def write_run(runs_dir: str, spec: dict, values: list[dict], blobs: list[bytes]) -> None:
    """Write one run directory from ``spec`` (see ``_run_spec``)."""
    run_dir = os.path.join(runs_dir, spec["id"])
    gdir = os.path.join(run_dir, ".guild")
    adir = os.path.join(gdir, "attrs")
    os.mkdir(run_dir)
    os.mkdir(gdir)
    os.mkdir(adir)
    op = spec["operation"]
    flags = spec["flags"]
    _write(os.path.join(gdir, "opref"), f"script:{PROJECT_DIR} '' '' {op}\n")
    _write(os.path.join(gdir, "manifest"), f"s {op} {SOURCE_SHA1} {op}\n")
    if spec["status"] == "staged":
        _write(os.path.join(gdir, "STAGED"), b"")

    attrs = {
        "id": spec["id"],
        "initialized": str(spec["initialized"]),
        "started": str(spec["started"]),
        "flags": "".join(f"{k}: {_yaml_str(v) if isinstance(v, str) else repr(v)}\n" for k, v in sorted(flags.items())).rstrip("\n"),
        "label": _yaml_str(spec["label"]),
        "cmd": "\n".join(
            [f"- {PYTHON}", "- -um", "- guild.op_main", f"- {op[:-3]}"]
            + [line for k, v in sorted(flags.items()) for line in (f"- --{k}", f"- '{v}'" if not isinstance(v, str) else f"- {v}")]
        ),
        "op": OP_ATTR.rstrip("\n"),
        "sourcecode_digest": spec["digest"],
        "host": "bench-host",
        "user": "bench",
        "random_seed": str(spec["random_seed"]),
    }
    if spec["stopped"] is not None:
        attrs["stopped"] = str(spec["stopped"])
        attrs["exit_status"] = str(spec["exit_status"])
    if spec["tags"]:
        attrs["tags"] = "\n".join(f"- {_yaml_str(t)}" for t in spec["tags"])
    if spec["marked"]:
        attrs["marked"] = "true"
    if spec["comment"]:
        attrs["comments"] = f"- body: checked this one\n  host: bench-host\n  time: {spec['started'] + 5_000_000}\n  user: bench"
    # What every real Guild run also has (see tests/fixtures/guild-runs/): a small env, the
    # command-line flags, deps, plugins, and the source snapshot in the run's root.
    attrs["user_flags"] = f"lr: {flags['lr']!r}"
    attrs["deps"] = "{}"
    attrs["plugins"] = "- cpu\n- disk\n- memory\n- perf\n- python_script"
    env = {
        "CMD_DIR": PROJECT_DIR, "FLAGS_DEST": "globals", "GUILD_HOME": "/bench/home",
        "GUILD_OP": f"{PROJECT_DIR}/{op}", "GUILD_PLUGINS": "cpu,disk,memory,perf,python_script",
        "GUILD_SOURCECODE": ".", "HOME": "/home/bench", "LANG": "C.UTF-8", "LOG_LEVEL": "'20'",
        "PATH": "/usr/local/bin:/usr/bin:/bin", "PROJECT_DIR": PROJECT_DIR, "PYTHONPATH": ".",
        "RUN_DIR": f"/bench/home/runs/{spec['id']}", "RUN_ID": spec["id"], "USER": "bench",
    }
    env.update({f"FLAG_{k.upper()}": (v if isinstance(v, str) else f"'{v}'") for k, v in flags.items()})
    attrs["env"] = "\n".join(f"{k}: {v}" for k, v in sorted(env.items()))
    for name, text in attrs.items():
        _write(os.path.join(adir, name), text + "\n")
    _write(os.path.join(run_dir, op), SOURCE)

    if spec["status"] == "staged":
        return
    vals = values[spec["template"]]
    lines = []
    for step in range(3):
        lines += [f"step: {step + 1}", f"loss: {vals['loss'][step]}", f"acc: {vals['acc'][step]}"]
    if spec["status"] == "error":
        lines.append("Traceback (most recent call last):")
        lines.append("RuntimeError: diverged")
    _write(os.path.join(gdir, "output"), "".join(line + "\n" for line in lines))
    t_ms = spec["started"] // 1000
    index = b"".join(struct.pack("!QB", t_ms + 10 * k, 1 if line.startswith(("Traceback", "RuntimeError")) else 0) for k, line in enumerate(lines))
    _write(os.path.join(gdir, "output.index"), index)
    ts = spec["started"] // 1_000_000
    _write(os.path.join(gdir, f"events.out.tfevents.{ts}.bench-host.{1000 + spec['i'] % 30000}.0"), blobs[spec["template"]])


def _build_chunk(args: tuple) -> int:
    runs_dir, start, stop, values, blobs = args
    for i in range(start, stop):
        write_run(runs_dir, _run_spec(i), values, blobs)
    return stop - start


def build_home(n: int, force: bool = False, processes: int = 2, quiet: bool = False) -> Path:
    """Build (or reuse) the synthetic home of ``n`` runs and return its path."""
    home = home_path(n)
    if not force and is_complete(home, n):
        return home
    t0 = time.perf_counter()
    partial = home.with_name(home.name + ".partial")
    for p in (partial, home):
        if p.exists():
            shutil.rmtree(p)
    runs_dir = partial / "runs"
    runs_dir.mkdir(parents=True)
    values, blobs, writer = make_templates()
    tasks = [(str(runs_dir), s, min(n, s + CHUNK), values, blobs) for s in range(0, n, CHUNK)]
    done = 0
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        for count in pool.imap_unordered(_build_chunk, tasks):
            done += count
            if not quiet and sys.stderr.isatty():
                print(f"\r  building home-{n}: {done}/{n}", end="", file=sys.stderr)
    if not quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    seconds = time.perf_counter() - t0
    info = {"runs": n, "format": FORMAT_VERSION, "writer": writer, "build_seconds": round(seconds, 2),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S")}
    partial.rename(home)
    (home / MARKER).write_text(json.dumps(info) + "\n")
    if not quiet:
        print(f"built {home} ({n} runs) in {seconds:.1f} s with {writer}", file=sys.stderr)
    return home


def build_info(home: Path) -> dict:
    """The marker's contents (runs, format, writer, build_seconds) of a built home."""
    try:
        return json.loads((home / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def expected_counts(n: int) -> dict:
    """How many runs of each status, marked, tagged, with loss <= 0.3 and lr < 0.01, a home has."""
    values = [_template_values(k) for k in range(N_TEMPLATES)]
    counts = {"completed": 0, "error": 0, "terminated": 0, "staged": 0, "marked": 0, "tagged": 0, "filter": 0}
    for i in range(n):
        s = _run_spec(i)
        counts[s["status"]] += 1
        counts["marked"] += s["marked"]
        counts["tagged"] += bool(s["tags"])
        if s["status"] != "staged" and s["flags"]["lr"] < 0.01 and values[s["template"]]["loss"][-1] <= 0.3:
            counts["filter"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: build the homes named by their sizes and print their paths."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sizes", nargs="+", type=int, help="number of runs")
    p.add_argument("--force", action="store_true", help="rebuild even if a complete home exists")
    p.add_argument("--processes", type=int, default=2)
    a = p.parse_args(argv)
    for n in a.sizes:
        print(build_home(n, force=a.force, processes=a.processes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
