"""Tables of runs: ``compare``, ``scalars`` and ``summary``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..terminal import echo as _echo
from . import _Filtered, _json_out, _say_none, _select_records, _selection, main


@main.command("compare", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--table", "-t", is_flag=True, help="Print a table (the default).")
@click.option("--min", "min_", metavar="COL", help="Sort by COL, lowest first.")
@click.option("--max", "max_", metavar="COL", help="Sort by COL, highest first.")
@click.option("--top", "-n", type=int, metavar="N", help="Show only the first N rows.")
def compare_cmd(runs: tuple, csv_path: str | None, table: bool, min_: str | None, max_: str | None,
                top: int | None, filters: dict) -> None:
    """Compare runs: flags and last scalar values, one row per run."""
    from .. import compare

    records = _select_records(runs, filters)
    header, rows = compare.table(records, sort_min=min_, sort_max=max_)
    if top:
        rows = rows[:top]
    if csv_path:
        compare.write_csv(header, rows, csv_path)
    elif not rows:
        _say_none(runs, filters)
    else:
        header, rows, same = compare.constant_flags(header, rows, compare.flag_columns(header, records))
        lines, dropped = compare.table_lines(header, rows)
        click.echo("\n".join(compare.constants_line(same) + lines))
        if dropped:
            from .. import terminal

            click.echo(terminal.dropped_note(dropped), err=True)


@main.command("scalars", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--summary", "-s", is_flag=True, help="One row per run and tag: first/last/min/max/avg/total/count.")
def scalars_cmd(runs: tuple, csv_path: str | None, summary: bool, filters: dict) -> None:
    """Print every scalar of the selected runs (run, path, tag, value, step)."""
    from .. import api

    sel, filters = _selection(runs, filters)
    df = api.ls_scalars(sel, summary=summary, **filters)
    if csv_path:
        df.to_csv(sys.stdout if csv_path == "-" else csv_path, index=False)
    elif not len(df):
        _echo("No scalars.")
    else:
        df = df.assign(run=df["run"].str[:8])
        _echo(df.to_string(index=False))


# --- summary: groups of runs and tests between them (issue 24) -------------------------------------

@main.command("summary", cls=_Filtered)
@click.argument("runs", nargs=-1)
@click.option("--by", "by", multiple=True, metavar="FLAG,...",
              help="Group by these flags alone (default: every flag but the seed).")
@click.option("--scalar", "scalars", multiple=True, metavar="NAME", help="Summarize this scalar (repeatable; "
              "default: all). With --versus: the one to compare.")
@click.option("--ci", default="0.95", show_default=True, metavar="LEVEL", help="Confidence level of the intervals.")
@click.option("--csv", "csv_path", metavar="FILE", help="Write CSV to FILE ('-' for standard output).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the summary's columns (with --versus: the test).")
@click.option("--versus", nargs=2, metavar="A B", help="Test whether runs B differ from runs A in --scalar (each a "
              "filter such as 'flag:units=64', or run ids a,b,c).")
def summary_cmd(runs: tuple, by: tuple, scalars: tuple, ci: str, csv_path: str | None, as_json: bool,
                versus: tuple | None, filters: dict) -> None:
    """Summarize groups of runs: each group is the runs of an operation whose flags are equal but
    the seed; mean ± confidence half-width (n) of each scalar, sorted by the first (lowest first).
    Only completed runs count unless a status filter (--error, ...) is given."""
    from .. import api, stats

    if versus:
        if len(scalars) != 1:
            from ..errors import UsageError

            raise UsageError("--versus needs one --scalar NAME to compare")
        if runs:
            from ..errors import UsageError

            raise UsageError("with --versus, the two selections are A and B: give no other RUNS")
        df = api.runs_versus(versus[0], versus[1], scalars[0], ci=ci, **filters)
        row = df.iloc[0].to_dict()
        if as_json:
            _json_out({k: _plain_cell(v) for k, v in row.items()})
        elif csv_path:
            _write_frame_csv(df, csv_path)
        else:
            _echo(stats.plain_words(row, str(row["a"]), str(row["b"])))
            _echo(_versus_details(row))
        return
    sel, filters = _selection(runs, filters)
    df = api.runs_summary(sel, by=list(by) or None, scalars=list(scalars) or None, ci=ci, **filters)
    if as_json:
        _json_out({c: [_plain_cell(v) for v in df[c].tolist()] for c in df.columns})
    elif csv_path:
        _write_frame_csv(df, csv_path)
    elif not len(df):
        _echo("No completed runs match." if not any(
            filters.get(k) for k in ("running", "error", "terminated", "pending", "staged")) else "No runs match.")
    else:
        header, rows = _summary_table(df)
        from .. import terminal

        lines, dropped = terminal.table(header, rows, drop_order=["operation"], keep=["n"],
                                        right=[h for h in header if h not in ("operation",)])
        click.echo("\n".join(lines))
        if dropped:
            click.echo(terminal.dropped_note(dropped), err=True)


def _plain_cell(v: Any) -> Any:
    """A cell of a summary frame as plain JSON-able Python: NumPy scalars unwrapped, NaN/NA None."""
    import pandas as pd

    if isinstance(v, (list, str)):
        return v
    if hasattr(v, "item"):
        v = v.item()
    return None if v is None or pd.isna(v) else v


def _write_frame_csv(df: Any, path: str) -> None:
    out = df.copy()
    for col in ("runs", "runs_a", "runs_b"):
        if col in out.columns:
            out[col] = [" ".join(ids) for ids in out[col]]
    if path == "-":
        out.to_csv(sys.stdout, index=False)
        return
    tmp = f"{path}.{os.getpid()}.tmp"  # (atomic: a reader never sees half a file)
    out.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _summary_table(df: Any) -> tuple[list[str], list[list[str]]]:
    """The summary as text: varying flags, n, then ``mean ± half-width (n)`` per scalar, sorted
    by the first scalar's mean (lowest first)."""
    from .. import stats
    from ..flags import format_value

    flag_cols = [c for c in df.columns if c.startswith("flags.")]
    if len(df) > 1:
        flag_cols = [c for c in flag_cols if df[c].astype(str).nunique(dropna=False) > 1]
    scalars = [c[len("scalars."):-len(".mean")] for c in df.columns if c.startswith("scalars.") and c.endswith(".mean")]
    if scalars:
        df = df.sort_values(f"scalars.{scalars[0]}.mean", kind="stable", na_position="last")
    header = ["operation", *[c[len("flags."):] for c in flag_cols], "n", *scalars]
    rows = []
    for rec in df.to_dict("records"):
        row = [rec["operation"] or ""]
        row += ["" if _plain_cell(rec[c]) is None else format_value(_plain_cell(rec[c])) for c in flag_cols]
        row.append(str(rec["n"]))
        for name in scalars:
            mean, low, high = (rec[f"scalars.{name}.{k}"] for k in ("mean", "ci_low", "ci_high"))
            n = rec[f"scalars.{name}.n"]
            if mean != mean:
                row.append("")
            elif low != low:
                row.append(f"{mean:.4g} ({n})")
            else:
                half = (high - low) / 2
                d = stats.decimals_for(half)
                row.append(f"{mean:.{d}f} ± {half:.{d}f} ({n})")
        rows.append(row)
    return header, rows


def _versus_details(row: dict) -> str:
    def num(v: float, fmt: str = ".4g") -> str:
        return "n/a" if v != v else format(v, fmt)

    return (f"  {row['scalar']}: mean {num(row['mean_b'])} vs {num(row['mean_a'])}; "
            f"Welch t-test {_p(row['p_welch'])}, Mann-Whitney U {_p(row['p_mannwhitney'])}, "
            f"Hedges' g = {num(row['hedges_g'], '+.2f')}")


def _p(p: float) -> str:
    from ..stats import _p_words

    return "p = n/a" if p != p else _p_words(p)
