"""The compare table: one row per run, its flags and last scalar values (no pandas: it must be fast)."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from typing import Any

from .flags import format_value, other_spelling

BASE_COLS = ["run", "operation", "started", "time", "status", "label"]


def duration(started: Any, stopped: Any, status: str | None = None) -> str:
    """``H:MM:SS`` between two µs timestamps (until now for a running run; "" if unknown)."""
    if started is None:
        return ""
    if stopped is None:
        if status != "running":
            return ""
        import time

        stopped = time.time() * 1e6
    secs = max(0, int((stopped - started) / 1e6))
    return f"{secs // 3600}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def columns(records: list[dict]) -> tuple[list[str], list[str]]:
    """The flag names and the scalar names (``sys/*`` left out) of ``records``, each sorted."""
    flag_names: dict[str, None] = {}
    scalar_names: dict[str, None] = {}
    for r in records:
        flag_names.update(dict.fromkeys(r.get("flags") or ()))
        scalar_names.update(dict.fromkeys(k for k in (r.get("scalars") or ()) if not k.startswith("sys/")))
    return sorted(flag_names), sorted(scalar_names)


def _qualified(names: list[str], kind: str, taken: set[str]) -> list[str]:
    """Column names for flags or scalars: a name another column has (``time``, a flag and a
    scalar both named ``x``) becomes ``flag:NAME`` / ``scalar:NAME``, as filters write it."""
    return [f"{kind}:{n}" if n in taken else n for n in names]


def table(records: list[dict], sort_min: str | None = None, sort_max: str | None = None
          ) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: run, operation, started, time, status, label, scalars..., flags...
    (the metrics first: a narrow terminal drops flags before them)."""
    flags, scalars = columns(records)
    base = set(BASE_COLS)
    header = BASE_COLS + _qualified(scalars, "scalar", base | set(flags)) + _qualified(flags, "flag", base)
    rows = []
    for r in records:
        st = r.get("started")
        row = [r["id"][:8], r.get("operation") or "",
               datetime.fromtimestamp(st / 1e6).isoformat(" ", "seconds") if st else "",
               duration(r.get("started"), r.get("stopped")), r.get("status") or "", r.get("label") or ""]
        fl = r.get("flags") or {}
        sc = r.get("scalars") or {}
        row += [sc.get(k) for k in scalars]
        row += [fl.get(k) for k in flags]
        rows.append(row)
    key = sort_min or sort_max
    if key:
        name = _column_named(header, key)
        if name is None:
            from .errors import UsageError

            raise UsageError(f"no column '{key}' to sort by (columns: {', '.join(header)})")
        i = header.index(name)
        present = [r for r in rows if isinstance(r[i], (int, float)) and not isinstance(r[i], bool)]
        missing = [r for r in rows if r not in present]
        present.sort(key=lambda r: r[i], reverse=bool(sort_max))
        rows = present + missing
    return header, rows


def _column_named(header: list[str], key: str) -> str | None:
    """The column ``key`` names: as written, without its ``flag:``/``scalar:`` prefix, or a
    flag by its other spelling (``learning-rate``: ``learning_rate``)."""
    bare = key.split(":", 1)[1] if key.startswith(("flag:", "scalar:")) else key
    for name in (key, bare, other_spelling(bare), "flag:" + other_spelling(bare)):
        if name in header:
            return name
    return None


def flag_columns(header: list[str], records: list[dict]) -> list[str]:
    """The columns of ``header`` (made by :func:`table`) that hold flags."""
    flags, _ = columns(records)
    n = len(header)
    return header[n - len(flags):] if flags else []


def constant_flags(header: list[str], rows: list[list[Any]], flag_cols: list[str]
                   ) -> tuple[list[str], list[list[Any]], list[tuple[str, Any]]]:
    """The table without the flag columns equal in every row (two rows or more), and those
    flags as (name, value): the terminal table shows them on one line above it."""
    if len(rows) < 2:
        return header, rows, []
    same = [i for i, h in enumerate(header) if h in flag_cols
            and all(_same(r[i], rows[0][i]) for r in rows)]
    if not same:
        return header, rows, []
    keep = [i for i in range(len(header)) if i not in same]
    return ([header[i] for i in keep], [[r[i] for i in keep] for r in rows],
            [(header[i], rows[0][i]) for i in same])


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


_LOWER_BETTER = {"loss", "error", "err", "mse", "mae", "rmse", "mape", "nll", "perplexity", "ppl", "wer", "cer",
                 "latency", "regret", "cost", "distance", "dist"}
_HIGHER_BETTER = {"acc", "accuracy", "precision", "recall", "f1", "auc", "roc", "score", "r2", "bleu", "rouge",
                  "iou", "map", "reward", "return", "top1", "top5", "dice", "kappa", "mcc", "sharpe"}


def direction(tag: str) -> str | None:
    """Which way a scalar improves, from its name: ``"min"`` (loss-like: ``loss``, ``val_loss``,
    ``rmse``, ``error``), ``"max"`` (``acc``, ``f1``, ``auc``, ``reward``) or None (unknown:
    ``lr``, ``time``). Used to colour differences by better and worse, and nowhere else."""
    import re

    words = [w for w in re.split(r"[^a-z0-9]+", tag.lower().rsplit("/", 1)[-1]) if w]
    for w in reversed(words):  # the last word decides: "loss_acc_ratio" is neither
        if w in _LOWER_BETTER:
            return "min"
        if w in _HIGHER_BETTER:
            return "max"
    return None


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, bool):
        return format_value(v)
    return str(v)


def write_csv(header: list[str], rows: list[list[Any]], path: str) -> None:
    """Write the table as CSV to ``path`` (``-`` = standard output)."""
    def emit(f):
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else format_value(v) if isinstance(v, bool) else v for v in row])

    if path == "-":
        emit(sys.stdout)
    else:
        with open(path, "w", newline="") as f:
            emit(f)


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    """The table as aligned text for standard output: fit to the terminal's width (labels cut
    with "…", then ``started``, ``time``, ``operation`` and the rightmost columns dropped) and
    styled only on a terminal. See :func:`table_lines` for the dropped columns."""
    return "\n".join(table_lines(header, rows)[0])


def constants_line(constants: list[tuple[str, Any]]) -> list[str]:
    """``Same in every run: name=value ...``, wrapped to the terminal's width (no lines: none)."""
    if not constants:
        return []
    from . import terminal

    words = [f"{terminal.safe(name)}={terminal.safe(_cell(v) if v is not None else '')}" for name, v in constants]
    return terminal.wrap("Same in every run: " + " ".join(words))


def table_lines(header: list[str], rows: list[list[Any]]) -> tuple[list[str], list[str]]:
    """The table's lines and the names of the columns that did not fit."""
    from . import terminal

    numeric = [h for i, h in enumerate(header)
               if any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)
               and all(r[i] is None or isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in rows)]
    return terminal.table(header, [[_cell(v) for v in row] for row in rows], cuttable=["label"],
                          drop_order=["started", "time", "operation", "label"], keep=["run"], right=numeric,
                          styles={"status": terminal.STATUS_STYLE.get, "run": "dim"})
