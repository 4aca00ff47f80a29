"""Side-by-side diffs of two line lists."""

from __future__ import annotations


def diff_rows(a: list[str], b: list[str], context: int = 3) -> list[dict]:
    """Side-by-side diff rows of two line lists.

    Each row: ``{"op": "same"|"del"|"add"|"chg"|"skip", "la", "a", "lb", "b"}`` (1-based line
    numbers; ``skip`` stands for ``n`` identical lines not shown).
    """
    import difflib

    sm = difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 4000)
    rows: list[dict] = []
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            n = i2 - i1
            if n > 2 * context + 1:
                head = 0 if not rows else context
                tail = 0 if i2 == len(a) and j2 == len(b) else context
                for k in range(head):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
                skipped = n - head - tail
                if skipped > 0:
                    rows.append({"op": "skip", "n": skipped})
                for k in range(n - tail, n):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
            else:
                for k in range(n):
                    rows.append({"op": "same", "la": i1 + k + 1, "a": a[i1 + k], "lb": j1 + k + 1, "b": b[j1 + k]})
        elif tag == "replace":
            for k in range(max(i2 - i1, j2 - j1)):
                ia, jb = i1 + k, j1 + k
                rows.append({"op": "chg",
                             "la": ia + 1 if ia < i2 else None, "a": a[ia] if ia < i2 else None,
                             "lb": jb + 1 if jb < j2 else None, "b": b[jb] if jb < j2 else None})
        elif tag == "delete":
            for k in range(i1, i2):
                rows.append({"op": "del", "la": k + 1, "a": a[k], "lb": None, "b": None})
        elif tag == "insert":
            for k in range(j1, j2):
                rows.append({"op": "add", "la": None, "a": None, "lb": k + 1, "b": b[k]})
    return rows


def diff_stats(rows: list[dict]) -> tuple[int, int]:
    """(lines removed, lines added) in diff rows."""
    rem = sum(1 for r in rows if r["op"] in ("del", "chg") and r.get("a") is not None)
    add = sum(1 for r in rows if r["op"] in ("add", "chg") and r.get("b") is not None)
    return rem, add
