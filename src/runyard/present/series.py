"""Scalar series of a run: read once and cached, downsampled for the charts."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

_SERIES_CACHE: "OrderedDict[str, tuple[tuple, dict]]" = OrderedDict()
_SERIES_LOCK = threading.Lock()
_SERIES_INFLIGHT: dict[str, threading.Lock] = {}
_SERIES_KEEP = 64  # runs whose series stay in memory...
_SERIES_MAX_POINTS = 8_000_000  # ...as long as they hold no more points than this in all


def _events_signature(run_dir: Path) -> tuple:
    from ..store.tfevents import event_files

    sig = []
    for p in event_files(run_dir):
        try:
            st = p.stat()
        except OSError:
            continue
        sig.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(sig)


def series(run_dir: str | os.PathLike) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every scalar series of a run: ``{(path, tag): (steps, values)}`` as numpy arrays sorted by
    step. Cached per run until its event files change; concurrent callers share one read."""
    run_dir = Path(run_dir)
    key = str(run_dir)
    with _SERIES_LOCK:
        key_lock = _SERIES_INFLIGHT.setdefault(key, threading.Lock())
    with key_lock:
        sig = _events_signature(run_dir)
        with _SERIES_LOCK:
            hit = _SERIES_CACHE.get(key)
            if hit is not None and hit[0] == sig:
                _SERIES_CACHE.move_to_end(key)
                return hit[1]
        out = _read_series(run_dir)
        with _SERIES_LOCK:
            _SERIES_CACHE[key] = (sig, out)
            _SERIES_CACHE.move_to_end(key)
            total = sum(_points(v[1]) for v in _SERIES_CACHE.values())
            while len(_SERIES_CACHE) > 1 and (len(_SERIES_CACHE) > _SERIES_KEEP or total > _SERIES_MAX_POINTS):
                old, (_, dropped) = _SERIES_CACHE.popitem(last=False)
                _SERIES_INFLIGHT.pop(old, None)
                total -= _points(dropped)
        return out


def series_version(run_dir: str | os.PathLike) -> str:
    """A short text that changes whenever a run's event files change (live charts poll it)."""
    import hashlib

    return hashlib.md5(repr(_events_signature(Path(run_dir))).encode()).hexdigest()[:12]


_TIMES_CACHE: "OrderedDict[str, tuple[tuple, dict]]" = OrderedDict()


def series_times(run_dir: str | os.PathLike) -> dict[tuple[str, str], Any]:
    """Wall times (seconds) of every point of :func:`series`, in the same (step) order; a
    series whose times can't be matched point for point is left out. Read on demand only (for
    a time x axis): it decodes every record."""
    import numpy as np

    from ..store.tfevents import event_files, read_scalars

    run_dir = Path(run_dir)
    key = str(run_dir)
    sig = _events_signature(run_dir)
    with _SERIES_LOCK:
        hit = _TIMES_CACHE.get(key)
        if hit is not None and hit[0] == sig:
            return hit[1]
    raw: dict[tuple[str, str], tuple[list, list]] = {}
    for path in event_files(run_dir):
        rel = Path(os.path.relpath(path.parent, run_dir)).as_posix()
        rel = "" if rel == "." else rel
        try:
            for tag, _value, step, wall in read_scalars(path):
                st, wt = raw.setdefault((rel, tag), ([], []))
                st.append(step)
                wt.append(wall)
        except OSError:
            continue
    out = {}
    for k, (steps, walls) in raw.items():
        s_arr, w_arr = np.asarray(steps, np.int64), np.asarray(walls, np.float64)
        if len(s_arr) > 1 and not bool(np.all(s_arr[1:] >= s_arr[:-1])):
            w_arr = w_arr[np.argsort(s_arr, kind="stable")]
        out[k] = w_arr
    with _SERIES_LOCK:
        _TIMES_CACHE[key] = (sig, out)
        while len(_TIMES_CACHE) > 16:
            _TIMES_CACHE.popitem(last=False)
    return out


def _points(series_map: dict) -> int:
    return sum(len(s) for s, _ in series_map.values())


def prewarm_series(run_dir: str | os.PathLike) -> None:
    """Start reading a run's series in the background (the run page asks for them soon)."""
    def work() -> None:
        try:
            series(run_dir)
        except Exception:  # noqa: BLE001 - the request that needs them reports errors
            pass

    threading.Thread(target=work, name="runyard-view-series", daemon=True).start()


def _read_series(run_dir: Path) -> dict[tuple[str, str], tuple[Any, Any]]:
    import numpy as np

    from ..store.tfevents import run_series

    out: dict[tuple[str, str], tuple[Any, Any]] = {}
    for k, (s, v) in run_series(run_dir).items():
        if len(s) > 1 and not bool(np.all(s[1:] >= s[:-1])):
            order = np.argsort(s, kind="stable")
            s, v = s[order], v[order]
        out[k] = (s, v)
    return out


def downsample(steps: Any, values: Any, max_points: int = 2000, x0: float | None = None,
               x1: float | None = None) -> tuple[list, list, bool]:
    """See :func:`downsample_index`; returns ``(steps, values, downsampled)`` as lists."""
    idx, down = downsample_index(steps, values, max_points, x0, x1)
    return steps[idx].tolist(), values[idx].tolist(), down


def downsample_index(steps: Any, values: Any, max_points: int = 2000, x0: float | None = None,
                     x1: float | None = None) -> tuple[Any, bool]:
    """At most about ``max_points`` points of a series (within ``[x0, x1]`` if given).

    Long series are cut into equal buckets and each bucket keeps its lowest and its highest
    point (in step order), so spikes and dips survive; the first and last points are kept.
    Returns ``(steps, values, downsampled)``.
    """
    import numpy as np

    i0, i1 = 0, len(steps)
    if x0 is not None:
        i0 = max(0, int(np.searchsorted(steps, x0, "left")) - 1)
    if x1 is not None:
        i1 = min(len(steps), int(np.searchsorted(steps, x1, "right")) + 1)
    s, v = steps[i0:i1], values[i0:i1]
    n = len(s)
    if n <= max_points:
        return np.arange(i0, i1), False
    buckets = max(1, max_points // 2)
    size = -(-n // buckets)
    buckets = -(-n // size)
    pad = buckets * size - n
    finite = np.isfinite(v)
    lo = np.where(finite, v, np.inf)
    hi = np.where(finite, v, -np.inf)
    if pad:
        lo = np.concatenate([lo, np.full(pad, np.inf)])
        hi = np.concatenate([hi, np.full(pad, -np.inf)])
    base = np.arange(buckets) * size
    imin = base + lo.reshape(buckets, size).argmin(axis=1)
    imax = base + hi.reshape(buckets, size).argmax(axis=1)
    idx = np.unique(np.concatenate([imin, imax, [0, n - 1]]))
    idx = idx[idx < n]
    return idx + i0, True


def series_json(run_dir: str | os.PathLike, max_points: int = 2000, x0: float | None = None,
                x1: float | None = None, only: Iterable[str] | None = None, times: bool = False) -> list[dict]:
    """Downsampled series of a run, ready for the charts: ``[{key, path, tag, steps, values, n,
    downsampled}]``, with ``times`` (wall time in seconds per point) when asked."""
    from ..store.record import scalar_column

    want = set(only) if only else None
    walls = series_times(run_dir) if times else {}
    out = []
    for (path, tag), (s, v) in sorted(series(run_dir).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        key = scalar_column(path, tag)
        if want is not None and key not in want:
            continue
        idx, down = downsample_index(s, v, max_points, x0, x1)
        item = {"key": key, "path": path, "tag": tag, "steps": s[idx].tolist(), "values": v[idx].tolist(),
                "n": int(len(s)), "downsampled": down}
        w = walls.get((path, tag))
        if times and w is not None and len(w) == len(s):
            item["times"] = w[idx].tolist()
        out.append(item)
    return out
