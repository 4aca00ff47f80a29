"""Times, durations, values, numbers and sizes as text, the way the CLI shows them."""

from __future__ import annotations

import json
import math
from typing import Any


def fmt_time(us: Any) -> str:
    """Local time of a µs timestamp, ``YYYY-MM-DD HH:MM:SS``."""
    if us is None:
        return ""
    from datetime import datetime

    try:
        return datetime.fromtimestamp(us / 1e6).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(us)


def fmt_duration(started: Any, stopped: Any, status: str | None = None) -> str:
    """``H:MM:SS`` between two µs timestamps (until now for a running run)."""
    from ..compare import duration

    return duration(started, stopped, status)


def fmt_value(v: Any) -> str:
    """A flag or attribute value as the CLI shows it."""
    if v is None:
        return ""
    if isinstance(v, float):
        return fmt_number(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    from ..flags import format_value

    try:
        return format_value(v)
    except Exception:  # noqa: BLE001
        return str(v)


def fmt_number(v: Any) -> str:
    """A scalar value with up to 6 significant digits."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == int(v) and abs(v) < 1e15:
            return str(int(v)) if abs(v) >= 1e6 else f"{v:g}"
        return f"{v:.6g}"
    return str(v)


def fmt_size(n: Any) -> str:
    """Bytes as ``12.3 KB``."""
    if n is None:
        return ""
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
