"""Remotes: push, pull and list 1,000 runs against a local S3-compatible server (moto).

    python benchmarks/remotes.py            # 1,000 runs (the cached bench home)
    python benchmarks/remotes.py --runs 200

Budgets (issue 14): first push of 1,000 small runs ≤ 30 s, a push with nothing changed ≤ 3 s,
``runs --remote`` on 1,000 runs ≤ 1 s. Each is a whole ``runyard`` process. Guild AI 0.9's
``push`` to S3 needs the AWS CLI and a real bucket, so it is not measured here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_home  # noqa: E402

BUDGETS = {"push (first)": 30.0, "push (nothing changed)": 3.0, "runs --remote": 1.0}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "runyard.cli", *args], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0, r


def measure(n: int) -> list[dict]:
    """Rows: operation, runs, seconds, budget, ok. Row counts are checked."""
    import s3fs

    home = make_home.build_home(n)
    work = Path(tempfile.mkdtemp(prefix="runyard-bench-remotes-"))
    port = _port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        env = dict(os.environ, GUILD_HOME=str(home), RUNYARD_CONFIG_DIR=str(work / "config"),
                   AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        env.pop("PYTHONUNBUFFERED", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # measure as installed: modules load from bytecode
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        s3fs.S3FileSystem(endpoint_url=endpoint).mkdir("bench")
        subprocess.run([sys.executable, "-m", "runyard.cli", "remote", "add", "bench", "s3://bench/runs",
                        "--option", f"endpoint_url={endpoint}"], env=env, check=True, capture_output=True)

        def row(op: str, secs: float, r: subprocess.CompletedProcess, count_ok: bool) -> None:
            ok = r.returncode == 0 and count_ok
            budget = BUDGETS.get(op)
            rows.append({"op": op, "runs": n, "seconds": round(secs, 3), "budget": budget,
                         "load": round(os.getloadavg()[0], 2),
                         "ok": ok and (budget is None or secs <= budget), "note": r.stderr.strip()[-200:]})

        # (the bench home holds a few staged and running runs: push them too, so every row is n runs)
        secs, r = _timed(["push", "bench", "--include-running"], env)
        row("push (first)", secs, r, f"pushed {n} runs" in r.stderr)
        secs, r = _timed(["push", "bench", "--include-running"], env)
        row("push (nothing changed)", secs, r, f"{n} unchanged" in r.stderr)
        secs, r = min((_timed(["runs", "--remote", "bench", "--all"], env) for _ in range(3)), key=lambda x: x[0])
        row("runs --remote", secs, r, len(r.stdout.splitlines()) == n)  # best of 3 (a busy machine)
        env2 = dict(env, GUILD_HOME=str(work / "laptop" / ".guild"))
        secs, r = _timed(["pull", "bench", "--include-running"], env2)
        row("pull (first)", secs, r, f"pulled {n} runs" in r.stderr)
        secs, r = _timed(["pull", "bench", "--include-running"], env2)
        row("pull (nothing changed)", secs, r, f"{n} unchanged" in r.stderr)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1000)
    a = p.parse_args(argv)
    rows = measure(a.runs)
    for r in rows:
        budget = f"≤ {r['budget']:g} s" if r["budget"] else "—"
        print(f"{r['op']:<24} {r['runs']:>6} runs  {r['seconds']:>8.2f} s  budget {budget:<8} "
              f"{'ok' if r['ok'] else 'OVER/FAILED':<12} load {r['load']:.2f}")
    out = make_home.bench_dir() / f"remotes-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
