"""Scalars from printed output (Guild AI 0.9's output-scalars rules), written to event files."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from runyard.errors import UsageError
from runyard.launch.scalars import DEFAULT_PATTERNS, OutputScalars
from runyard.launch.scalars import test_patterns as preview
from runyard.store.tfevents import EventWriter, read_scalars, run_scalars

FIXTURE_RUNS = Path(__file__).parent / "fixtures" / "guild-runs" / "runs"


def record(tmp_path: Path, text: str, patterns=None, ignore_keys=(), chunks: int | None = None):
    """Feed ``text`` through OutputScalars into a real event file; return (tag, value, step)."""
    with EventWriter(tmp_path / ".guild") as w:
        out = OutputScalars(w, patterns, ignore_keys)
        if chunks:
            lines = text.splitlines(keepends=True)
            for i in range(0, len(lines), chunks):
                out.feed("".join(lines[i:i + chunks]))
        else:
            out.feed(text)
        out.close()
    return [(t, v, s) for t, v, s, _ in read_scalars(w.path)]


def approx_rows(rows):
    return [(t, pytest.approx(v, rel=1e-6, nan_ok=True), s) for t, v, s in rows]


# --------------------------------------------------------------------------------------------
# Default patterns


def test_defaults_step_lines_and_values(tmp_path):
    text = textwrap.dedent("""\
        loss: 2.5
        step: 1
        loss: 0.5
        acc: 0.75
        step: 2
        loss: 0.25
        val_loss: -1e-3
        lr: 1E-4
        weird: nan
        worse: -inf
        version: 1.2.3
        note: hello
        """)
    rows = record(tmp_path, text)
    assert rows[:4] == [("loss", 2.5, 0), ("loss", 0.5, 1), ("acc", 0.75, 1), ("loss", 0.25, 2)]
    assert approx_rows(rows[4:]) == [("val_loss", -1e-3, 2), ("lr", 1e-4, 2),
                                     ("weird", math.nan, 2), ("worse", -math.inf, 2)]
    assert "step" not in {t for t, _, _ in rows}


def test_defaults_step_in_parentheses_and_keras_lines(tmp_path):
    text = textwrap.dedent("""\
        loss: 0.1 (step 5)
        acc: 0.2
        loss: 0.3 (7)
        epoch 3 loss: 0.4 (step 10)
        loss: 0.5 (best so far)
        Epoch 1/10 ... loss: 0.5467 - accuracy: 0.8094
        1875/1875 [==============================] - 2s 1ms/step - loss: 0.29 - accuracy: 0.91
          indented: 1.0
        """)
    assert record(tmp_path, text) == [
        ("loss", pytest.approx(0.1), 5), ("acc", pytest.approx(0.2), 5),
        ("loss", pytest.approx(0.3), 7),
        # "epoch 3 loss: 0.4 (step 10)" only sets the step: its key does not start the line.
        ("loss", 0.5, 10),
        # Keras's lines hold several pairs (not Guild's defaults: runyard's addition)
        ("accuracy", pytest.approx(0.8094), 10), ("loss", pytest.approx(0.5467), 10),
        ("accuracy", pytest.approx(0.91), 10), ("loss", pytest.approx(0.29), 10),
    ]


def test_lines_are_right_stripped_and_control_bytes_dropped(tmp_path):
    text = "step: 3  \r\nloss: 0.5\t \r\nacc:\t0.25\x07\nx: 1 \n\x01y: 2"
    assert record(tmp_path, text) == [("loss", 0.5, 3), ("acc", 0.25, 3), ("x", 1.0, 3), ("y", 2.0, 3)]
    # Other whitespace str.rstrip() strips (no-break and ideographic spaces, form feed).
    assert preview(None, "a: 1\xa0\nb: 2\u3000\nc: 3\x0c") == [("a", 1.0, 0), ("b", 2.0, 0), ("c", 3.0, 0)]
    assert preview(None, "a: 1\r") == [("a", 1.0, 0)]


def test_flag_names_are_ignored_with_default_patterns_only(tmp_path):
    text = "lr: 0.1\nbatch: 32\nloss: 0.5\n"
    assert record(tmp_path / "a", text, ignore_keys=["lr", "batch"]) == [("loss", 0.5, 0)]
    custom = [r"^(\key):\s+(\value)$"]
    assert [t for t, _, _ in record(tmp_path / "b", text, custom, ignore_keys=["lr"])] == [
        "lr", "batch", "loss"]


def test_step_persists_across_feeds_and_chunking_does_not_matter(tmp_path):
    lines = []
    for i in range(1, 301):
        lines.append(f"step: {i}")
        lines.append(f"loss: {1 / i:.6f}")
        if i % 7 == 0:
            lines.append(f"note: {i} (step {i * 10})")
        if i % 11 == 0:
            lines.append("Epoch 1/10 - loss: 0.1")
    text = "\n".join(lines) + "\n"
    whole = record(tmp_path / "whole", text)
    assert record(tmp_path / "by-line", text, chunks=1) == whole
    assert record(tmp_path / "by-13", text, chunks=13) == whole
    assert len([r for r in whole if r[0] == "loss"]) == 300
    assert ("note", 7.0, 70) in whole and ("loss", pytest.approx(1 / 8, rel=1e-6), 8) in whole


# The reference's own reading of the rules, from the module's documentation and Guild's, not from
# its code: Guild's two default patterns, its \key and \step, and runyard's wider \value
# (Guild's [0-9.e-]+, plus a sign, an exponent with "+", and nan / inf / infinity in any case).
GUILD_DEFAULTS = [
    r"\key: +\value\s+\((?:step\s+)?(?P<step>\step)\)$",
    r"^(\key):\s+(\value)(?:\s+\(.*\))?$",
]
REF_ALIASES = {
    "key": r"[^ \t]+",
    "value": r"(?:[-+]?(?:[0-9.][0-9.eE-]*(?:[eE][-+]?[0-9]+)?|(?i:nan|inf(?:inity)?)))",
    "step": r"[0-9]+",
}


def _ref_expand(pattern: str) -> str:
    """``\\key``, ``\\value``, ``\\step`` replaced, scanning the pattern one escape at a time."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            word = next((w for w in REF_ALIASES if pattern.startswith(w, i + 1)), None)
            if word:
                out.append(REF_ALIASES[word])
                i += 1 + len(word)
            else:
                out.append(pattern[i:i + 2])
                i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _ref_spec(patterns) -> list:
    """(map key or None, pattern) pairs: a string, a map (keys in order) or a list of either."""
    items = patterns if isinstance(patterns, list) else [patterns]
    spec = []
    for item in items:
        if isinstance(item, dict):
            spec += [(k, item[k]) for k in sorted(item)]
        else:
            spec.append((None, item))
    return spec


def _ref_pairs(line: str) -> list:
    """The key/value pairs of a log line, the obvious way: try a pair at every word start, then
    look at what follows it. Only a line with two or more (or an "Epoch N" start) gives any."""
    import re

    marker = (re.match(r"[ \t]*--[ \t]*(?:Epoch|epoch|EPOCH)[ \t]+([0-9]+)(?:/[0-9]+)?(?=[ \t]*$|:)", line)
              or re.match(r"[ \t]*(?:Epoch|epoch|EPOCH)[ \t]+([0-9]+)(?=[/:])(?:/[0-9]+)?(?=[ \t]*$|:)", line))
    pairs = [("epoch", marker.group(1))] if marker else []
    pair = re.compile(r"([A-Za-z_][\w.\-/]*)(?::[ \t]+|[ \t]*=(?!=)[ \t]*)"
                      r"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?(?:[nN][aA][nN]|[iI][nN][fF]))")
    next_pair = re.compile(r"[A-Za-z_][\w.\-/]*(?::[ \t]|[ \t]*=(?!=))")
    i = marker.end() if marker else 0
    while i < len(line):
        m = pair.match(line, i) if i == 0 or line[i - 1] in " \t,;|([{" else None
        if m is None:
            i += 1
            continue
        rest = line[m.end():]
        gap = rest.lstrip(" \t")
        if (not gap or rest[0] in ",;|)]}" or (gap != rest and (gap[0] in "|,;([" or gap[:2] in ("- ", "-\t")
                                                                  or next_pair.match(gap)))):
            key = m.group(1)
            pairs.append((key.lower() if key.lower() in ("step", "epoch") else key, m.group(2)))
            i = m.end()
        else:
            i += 1
    if line.lstrip(" \t")[:1] in ("#", ">", "{"):  # comments, echoed code, configuration
        return []
    return pairs if len(pairs) > 1 or marker else []


def _reference(patterns, text, ignore=()):
    """Guild's rules applied the slow, obvious way: line by line, pattern by pattern."""
    import re

    if patterns is None:
        spec = [(None, p) for p in GUILD_DEFAULTS]
    else:
        spec = _ref_spec(patterns)
        ignore = ()
    compiled = [(key, re.compile(_ref_expand(src))) for key, src in spec]
    step, out, stepped = 0, [], False
    for line in text.split("\n"):
        line = "".join(ch for ch in line if ord(ch) >= 9).rstrip()
        vals = {}
        for key, rx in compiled:
            for m in rx.finditer(line):
                gd = m.groupdict()
                if gd:
                    pairs = [(gd["_key"], gd["_val"])] if "_key" in gd and "_val" in gd else gd.items()
                elif len(m.groups()) == 1:
                    pairs = [(key, m.group(1))]
                elif len(m.groups()) == 2:
                    pairs = [m.groups()]
                else:
                    pairs = []
                for k, v in pairs:
                    try:
                        if k is not None:
                            vals[k] = float(v)
                    except (TypeError, ValueError):
                        pass
        if patterns is None:
            for key, v in _ref_pairs(line):
                if key not in vals:
                    vals[key] = float(v)
        if "step" in vals:
            new_step = vals.pop("step")
            if math.isfinite(new_step):  # a step that is not a finite number is ignored
                step, stepped = int(new_step), True
        elif "epoch" in vals and "epoch" not in ignore and not stepped and vals["epoch"] >= 0 \
                and vals["epoch"].is_integer():
            step = int(vals["epoch"])  # epoch sets the step until a step is seen
        out += [(k, vals[k], step) for k in sorted(vals) if k not in ignore]
    return out


def _nan_as_text(rows):
    """Rows with NaN values spelled "nan", so that lists of rows compare equal (NaN != NaN)."""
    return [(t, "nan" if v != v else v, s) for t, v, s in rows]


@pytest.mark.parametrize("patterns", [
    None,
    {"step": r"step: (\value)", "loss": r"loss: (\value)"},
    [{"step": r"\[(\step)]"}, r"(\key):(\value)"],
    [r"(\key):\s+(\value)", r"(?P<_key>[a-z]+)=(?P<_val>\value)"],
])
def test_chunked_matching_agrees_with_line_by_line_rules(patterns):
    import random

    rnd = random.Random(7)
    keys = ["loss", "step", "acc", "a:b", "lr", "val_loss", "[3]", "x", "epoch", "epoch"]
    seps = [": ", ":  ", ":\t", ":", "=", " : "]
    vals = ["0.5", "-1", "1e-3", "3", "1.2.3", ".5", "2e5", "abc", "12", "+1", "1E+5", "nan", "-INF", "Infinity",
            "e5", "-", "infx"]
    ends = ["", " (step 5)", " (7)", " (note)", "  ", "\t", " (step x)", " (3) (4)", ")", "\r", " loss:"]
    starts = ["", "", "epoch 3 ", " ", "[2]\t", "> ", "#| {", " #", "Epoch 1/10 ... ", "-- Epoch 2 ", "EPOCH 4: ", "Epoch 5/9", "epoch 6"]
    lines = []
    for _ in range(3000):
        words = [rnd.choice(keys) + rnd.choice(seps) + rnd.choice(vals) for _ in range(rnd.choice([1, 1, 2]))]
        lines.append(rnd.choice(starts) + " ".join(words) + rnd.choice(ends))
    text = "\n".join(lines) + "\n"
    want = _nan_as_text(_reference(patterns, text, ignore=["lr"]))
    assert len(want) > 50
    assert _nan_as_text(preview(patterns, text, ignore_keys=["lr"])) == want
    for size in (1, 5, 64):
        got = []
        class Sink:
            def add_scalars(self, items, wall_time=None):
                got.extend(items)

            def flush(self):
                pass
        out = OutputScalars(Sink(), patterns, ["lr"])
        for i in range(0, len(lines), size):
            out.feed("\n".join(lines[i:i + size]) + "\n")
        assert _nan_as_text(got) == want, f"fed {size} lines at a time"


def _by_tag(rows):
    """Each tag's (value, step) sequence: what a reader sees of the rows, whatever order the tags
    are interleaved in."""
    out: dict = {}
    for t, v, s in _nan_as_text(rows):
        out.setdefault(t, []).append((v, s))
    return out


def test_print_heavy_columns_agree_with_line_by_line_rules():
    """Bytes from the supervisor take the column path when every line is KEY: VALUE with keys in
    a short cycle; it must give what Guild's rules give line by line, whatever the chunks."""
    import random

    class Counted(OutputScalars):
        columns = 0

        def _feed_columns(self, data):
            done = super()._feed_columns(data)
            self.columns += done and b":" in data
            return done

    columns = 0
    rnd = random.Random(11)
    names = ["step", "epoch", "loss", "acc", "lr", "a:b", "x"]
    values = ["0", "1", "7", "12", "300", "20000", "0.5", "-1", "1e-3", "nan", "1.0", ".", "-0", "+3", "inf"]
    for trial in range(300):
        unit = rnd.sample(names, rnd.choice([1, 2, 2, 3, 4]))
        rows = rnd.choice([1, 5, 40, 200])
        lines = []
        counter = rnd.choice([0, 100, 16380, 2 ** 21 - 3])
        for _ in range(rows):
            for name in unit:
                if name in ("step", "epoch") and rnd.random() < 0.9:
                    counter += rnd.choice([0, 1, 1, 2])
                    lines.append(f"{name}: {counter}")
                else:
                    lines.append(f"{name}: {rnd.choice(values) if rnd.random() < 0.2 else rnd.random()}")
        if rnd.random() < 0.2:
            lines.insert(rnd.randrange(len(lines)), rnd.choice(["hello", "loss:  1", "loss: 1 (step 3)", "x: 2"]))
        text = "\n".join(lines) + "\n"
        want = _by_tag(_reference(None, text, ignore=["lr"]))
        got = []

        class Sink:
            def add_scalars(self, items, wall_time=None):
                got.extend(items)

            def flush(self):
                pass

        out = Counted(Sink(), None, ["lr"])
        data = text.encode()
        pos = 0
        while pos < len(data):  # chunks of whole lines, as the output writer hands them over
            end = data.rfind(b"\n", pos, pos + rnd.choice([20, 200, 5000])) + 1 or data.find(b"\n", pos) + 1
            out.feed(data[pos:end])
            pos = end
        assert _by_tag(got) == want, (trial, unit, text[:300])
        columns += out.columns
    assert columns > 100  # the column path was taken (and agreed)


def test_column_writer_writes_the_same_records(tmp_path):
    """EventWriter.add_column's records are byte for byte add_scalars' (any step widths, values)."""
    import random

    rnd = random.Random(3)
    for trial in range(40):
        n = rnd.choice([64, 300, 3000])
        first = rnd.choice([0, 5, 120, 16000, 2 ** 21 - 50, 2 ** 28 - 3, 2 ** 35])
        steps = sorted(first + rnd.randrange(300) for _ in range(n))
        values = [rnd.choice([rnd.random(), -1e300, math.nan, math.inf, 0.0, 5e-324]) for _ in range(n)]
        tag = rnd.choice(["loss", "t" * 200, "val/acc"])
        files = []
        for how in ("add_scalars", "add_column"):
            with EventWriter(tmp_path / f"{trial}-{how}") as w:
                if how == "add_scalars":
                    w.add_scalars(list(zip([tag] * n, values, steps)), 12.5)
                else:
                    w.add_column(tag, values, steps, 12.5)
            files.append(w.path.read_bytes()[40:])  # after the file-version record (its own time)
        assert files[0] == files[1], (trial, n, first)
    assert [(t, s) for t, v, s, _ in read_scalars(w.path)] == [(tag, s) for s in steps]


LOGS = Path(__file__).parent / "fixtures" / "logs"


@pytest.mark.parametrize("name, want", [
    # Keras: "Epoch N/M" sets the step; each epoch's pairs; the evaluation line at the last epoch.
    ("keras_fit.txt", [("epoch", 1, 1), ("accuracy", 0.8094, 1), ("loss", 0.5467, 1), ("val_accuracy", 0.8553, 1),
                       ("val_loss", 0.4028, 1), ("epoch", 2, 2), ("accuracy", 0.8601, 2), ("loss", 0.3921, 2),
                       ("val_accuracy", 0.8671, 2), ("val_loss", 0.3702, 2), ("epoch", 3, 3),
                       ("accuracy", 0.8733, 3), ("loss", 0.3512, 3), ("val_accuracy", 0.8702, 3),
                       ("val_loss", 0.3598, 3), ("accuracy", 0.8651, 3), ("loss", 0.3745, 3)]),
    # PyTorch's MNIST example: "Train Epoch: N" sets the step; its "Test set:" line holds one pair.
    ("pytorch_mnist.txt", [("Loss", 2.300024, 1), ("epoch", 1, 1), ("Loss", 1.215442, 1), ("epoch", 1, 1),
                           ("Loss", 0.112004, 1), ("epoch", 1, 1), ("Loss", 0.087325, 2), ("epoch", 2, 2),
                           ("Loss", 0.030117, 2), ("epoch", 2, 2)]),
    ("lightning.txt", [("epoch", 0, 0), ("train_loss", 0.234, 0), ("v_num", 0, 0),
                       ("epoch", 1, 1), ("train_loss", 0.118, 1), ("v_num", 0, 1)]),
    ("sklearn_verbose.txt", [("epoch", 1, 1), ("Bias", -0.148235, 1), ("NNZs", 54, 1), ("Norm", 6.45, 1),
                             ("T", 581012, 1), ("loss", 0.712394, 1), ("epoch", 2, 2), ("Bias", -0.1531, 2),
                             ("NNZs", 54, 2), ("Norm", 6.01, 2), ("T", 1162024, 2), ("loss", 0.693318, 2)]),
    ("pip_install.txt", []),
    ("prose.txt", []),  # numbers in sentences, versions, times, ids, progress bars: no scalars
])
def test_common_log_lines_give_scalars_and_prose_none(name, want):
    """A corpus of real log formats: the scalars each gives with the default patterns."""
    text = (LOGS / name).read_text()
    assert preview(None, text) == [(t, pytest.approx(v), s) for t, v, s in want]
    assert _by_tag(preview(None, text)) == _by_tag(_reference(None, text))
    data = text.encode()  # as the supervisor feeds it (bytes, any chunks of whole lines)
    got = []

    class Sink:
        def add_scalars(self, items, wall_time=None):
            got.extend(items)

        def flush(self):
            pass

    out = OutputScalars(Sink(), None)
    for line in data.splitlines(keepends=True):
        out.feed(line)
    assert got == [(t, pytest.approx(v), s) for t, v, s in want]


def test_epoch_sets_the_step_until_a_step_is_seen():
    text = "loss: 1\nepoch: 1\nloss: 0.5\nepoch: 2\nloss: 0.25 (note)\nepoch: 2.5\nacc: 1\n"
    assert preview(None, text) == [("loss", 1.0, 0), ("epoch", 1.0, 1), ("loss", 0.5, 1), ("epoch", 2.0, 2),
                                   ("loss", 0.25, 2), ("epoch", 2.5, 2), ("acc", 1.0, 2)]
    # step: keeps priority, from the moment it is seen
    assert preview(None, "epoch: 1\nstep: 10\nloss: 1\nepoch: 2\nloss: 2\n") == [
        ("epoch", 1.0, 1), ("loss", 1.0, 10), ("epoch", 2.0, 10), ("loss", 2.0, 10)]
    assert preview(None, "epoch: 3\nloss: 1\n", ignore_keys=["epoch"]) == [("loss", 1.0, 0)]  # a flag
    assert preview({"epoch": r"Epoch (\value)", "loss": r"loss=(\value)"}, "Epoch 4\nloss=1\n") == [
        ("epoch", 4.0, 4), ("loss", 1.0, 4)]


def test_no_step_means_step_zero():
    assert preview(None, "a: 1\nb: 2\na: 3\n") == [("a", 1.0, 0), ("b", 2.0, 0), ("a", 3.0, 0)]


def test_default_patterns_are_guilds():
    assert DEFAULT_PATTERNS == [
        r"\key: +\value\s+\((?:step\s+)?(?P<step>\step)\)$",
        r"^(\key):\s+(\value)(?:\s+\(.*\))?$",
    ]


def test_guild_fixture_output_gives_what_guild_recorded():
    """The output of real Guild 0.9 runs, re-parsed, gives the scalars Guild wrote."""
    for run_dir in sorted(p for p in FIXTURE_RUNS.iterdir() if p.is_dir()):
        output = (run_dir / ".guild" / "output").read_text()
        flags = yaml.safe_load((run_dir / ".guild" / "attrs" / "flags").read_text())
        ours = preview(None, output, ignore_keys=list(flags))
        guilds = [(t, v, s) for _, t, v, s in run_scalars(run_dir)]
        assert approx_rows(guilds) == ours


# --------------------------------------------------------------------------------------------
# Custom patterns (front matter)

FRONT_MATTER = textwrap.dedent(r"""
    output-scalars:
      step: 'step: (\value)'
      loss: 'loss: (\value)'
      accuracy: 'accuracy: (\value)'
    """)


def test_front_matter_map_patterns(tmp_path):
    patterns = yaml.safe_load(FRONT_MATTER)["output-scalars"]
    text = textwrap.dedent("""\
        step: 1
        loss: 0.9 accuracy: 0.5
        Epoch 1/10 ... val_loss: 0.7 - accuracy: 0.6
        step: 2
        loss: 0.8
        """)
    assert approx_rows(record(tmp_path, text, patterns)) == [
        # Several keys on one line are written in key order, as Guild does.
        ("accuracy", 0.5, 1), ("loss", 0.9, 1),
        ("accuracy", 0.6, 1), ("loss", 0.7, 1),  # unanchored: "val_loss: 0.7" has "loss: 0.7"
        ("loss", 0.8, 2),
    ]


def test_list_patterns_xgboost_style(tmp_path):
    patterns = yaml.safe_load(textwrap.dedent(r"""
        output-scalars:
          - step: '\[(\step)]'
          - '(\key):(\value)'
        """))["output-scalars"]
    text = "".join(f"[{i}]\ttrain-error:0.{50 - i}\ttest-error:0.{60 - i}\n" for i in range(1, 21))
    rows = record(tmp_path, text, patterns)
    assert len(rows) == 40
    assert rows[:2] == [("test-error", pytest.approx(0.59), 1), ("train-error", pytest.approx(0.49), 1)]
    assert rows[-1] == ("train-error", pytest.approx(0.30), 20)


def test_named_groups():
    assert preview([r"(?P<_key>\w+)=(?P<_val>\value)"], "a=1 b=2\n") == [("a", 1.0, 0), ("b", 2.0, 0)]
    assert preview([r"^acc (?P<acc>\value) loss (?P<loss>\value)$"], "acc 0.5 loss 2\n") == [
        ("acc", 0.5, 0), ("loss", 2.0, 0)]
    # A named step group sets the step.
    assert preview([r"it (?P<step>\step):", r"(\key)=(\value)"], "it 4: x=1\nx=2\n") == [
        ("x", 1.0, 4), ("x", 2.0, 4)]


def test_a_key_twice_on_one_line_keeps_the_last_value():
    assert preview([r"(\key)=(\value)"], "x=1 x=2 y=3\n") == [("x", 2.0, 0), ("y", 3.0, 0)]


def test_a_match_never_spans_lines():
    # Guild matches line by line: "\s" must not reach into the next line.
    assert preview([r"(\key):\s+(\value)"], "loss:\n0.5\nacc: 1\n") == [("acc", 1.0, 0)]
    assert preview([r"(?s)start(.*)end"], "start\n1\nend\n") == []


def test_patterns_with_an_unusable_group_count_record_nothing():
    assert preview([r"loss: (\value)"], "loss: 0.5\n") == []  # one group, no key
    assert preview([r"(a)(b)(c)"], "abc\n") == []
    assert preview([r"loss: \value"], "loss: 0.5\n") == []


def test_disabled():
    text = "step: 1\nloss: 0.5\n"
    for off in (False, "no", "No", [], {}):
        assert preview(off, text) == []
        assert not OutputScalars(None, off).enabled
    assert preview(True, text) == preview(None, text) == [("loss", 0.5, 1)]


def test_invalid_patterns_raise_usage_error():
    with pytest.raises(UsageError, match=r"loss: \(\[0-9\]"):
        OutputScalars(None, ["loss: ([0-9]"])
    with pytest.raises(UsageError, match="for loss"):
        OutputScalars(None, {"loss": 3})
    with pytest.raises(UsageError, match="42"):
        OutputScalars(None, [42])
    with pytest.raises(UsageError):
        OutputScalars(None, 3.5)


def test_patterns_property_lists_what_is_applied():
    out = OutputScalars(None, yaml.safe_load(FRONT_MATTER)["output-scalars"])
    assert out.patterns == [("accuracy", r"accuracy: (\value)"), ("loss", r"loss: (\value)"),
                            ("step", r"step: (\value)")]
    assert OutputScalars(None).patterns == [(None, p) for p in DEFAULT_PATTERNS]


# --------------------------------------------------------------------------------------------
# Speed: a real process printing 400k lines, read from a pipe as the runner does


PRINT_HEAVY = textwrap.dedent("""\
    for i in range(200000):
        print(f"step: {i}")
        print(f"loss: {1.0 / (i + 1):.6f}")
    """)


def _pump(script: Path, sink=None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    rest = b""
    while True:
        data = proc.stdout.read1(65536)
        if not data:
            break
        if sink is not None:
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                sink.feed(data[:cut].decode("utf-8", "replace"))
    if sink is not None and rest:
        sink.feed(rest.decode("utf-8", "replace"))
    proc.wait()
    return time.perf_counter() - t0


def test_speed_400k_printed_lines(tmp_path, capsys):
    script = tmp_path / "p.py"
    script.write_text(PRINT_HEAVY)
    bare = _pump(script)
    with EventWriter(tmp_path / ".guild") as w:
        out = OutputScalars(w, None)
        t = _pump(script, out)
        out.close()
    bare = min(bare, _pump(script))
    rows = run_scalars(tmp_path)
    assert len(rows) == 200_000
    assert rows[-1] == (".guild", "loss", pytest.approx(1 / 200000, rel=1e-6), 199999)

    # The parsing and writing alone, in-process (CPU time), for the default and custom patterns.
    text = "".join(f"step: {i}\nloss: {1.0 / (i + 1):.6f}\n" for i in range(200000))
    chunks = []
    pos = 0
    while pos < len(text):
        end = text.rfind("\n", pos, pos + 65536) + 1
        chunks.append(text[pos:end])
        pos = end
    cpu = {}
    for name, patterns in (("defaults", None), ("custom", yaml.safe_load(FRONT_MATTER)["output-scalars"])):
        with EventWriter(tmp_path / name) as w:
            out = OutputScalars(w, patterns)
            c0 = time.process_time()
            for chunk in chunks:
                out.feed(chunk)
            out.close()
            w.flush()
            cpu[name] = time.process_time() - c0
    with capsys.disabled():
        print(f"\n[output scalars] 400k lines: bare python {bare:.2f}s, with scalars {t:.2f}s "
              f"({t / bare:.2f}x); parse+write CPU: defaults {cpu['defaults']:.2f}s "
              f"({400000 / cpu['defaults']:,.0f} lines/s), custom map {cpu['custom']:.2f}s")


def test_the_documented_recipe_records_what_it_says():
    """docs/scalars.md's output-scalars example, read from the page, on the line it shows."""
    import re

    page = (Path(__file__).parent.parent / "docs" / "scalars.md").read_text()
    block = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    front = "\n".join(line[3:] for line in block.splitlines() if line.startswith("#| "))
    patterns = yaml.safe_load("\n".join(line.split("  #")[0] for line in front.splitlines()))["output-scalars"]
    text = "iteration 3: loss is 0.2500, lr=0.01\nval 0.5 / 0.75\n"
    assert preview(patterns, text) == [("loss", 0.25, 3), ("lr", 0.01, 3), ("val_acc", 0.75, 3),
                                       ("val_loss", 0.5, 3)]


def test_a_pattern_that_could_backtrack_forever_is_refused_before_the_run(project):
    """Every output line goes through the patterns: one that repeats a repeated group
    (``(a+)+$`` takes seconds on a 30-character line, and doubles with each character) is refused
    in one line, exit 2, before a run is made; the same with a plain invalid pattern."""
    from conftest import cli, runs_in

    line = "a" * 40 + "b"
    (project / "nested.py").write_text(f"#| output-scalars: ['(a+)+$']\nprint({line!r})\n")
    (project / "broken.py").write_text("#| output-scalars: ['(a+']\nprint('x')\n")
    for script, says in (("nested.py", "repeats a repeated group"), ("broken.py", "unterminated subpattern")):
        t0 = time.perf_counter()
        r = cli("run", script, "-y", timeout=30)
        assert time.perf_counter() - t0 < 10
        assert r.returncode == 2, r.stderr
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and says in err[0], r.stderr
    assert runs_in(project / ".guild") == []
    with pytest.raises(UsageError, match="repeats a repeated group"):
        OutputScalars(None, [{"loss": r"loss: (\value)+"}])
    OutputScalars(None, [r"(\key): (\value)", {"loss": r"loss: (\value)"}, r"^step (\step)$"])  # Guild's own
