"""TensorBoard event files: our writer read by TensorBoard, others' files read by us.

Test dependencies: ``tensorboard`` (its event-file loader and protos, no TensorFlow) and
``tensorboardX``; PyTorch's format is written by TensorBoard's own event writer, as its ``SummaryWriter`` does.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import time
from pathlib import Path

import pytest

from runyard.store.tfevents import EventWriter, event_files, read_scalars, run_scalars

FIXTURE_RUNS = Path(__file__).parent / "fixtures" / "guild-runs" / "runs"


def f32(x: float) -> float:
    """``x`` as TensorBoard stores a simple_value (float32)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def tb_events(path: Path):
    """Raw Event protos of ``path``, as TensorBoard's own loader reads them (CRCs checked)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    return list(LegacyEventFileLoader(str(path)).Load())


def tb_scalars(path: Path):
    """(tag, value, step) as TensorBoard's loader serves them (after its data migrations)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    out = []
    for ev in EventFileLoader(str(path)).Load():
        for v in ev.summary.value:
            arr = tensor_util.make_ndarray(v.tensor)
            if arr.size == 1 and arr.dtype.kind == "f":
                out.append((v.tag, arr.item(), ev.step))
    return out


def write_with_tensorboard(logdir: Path, events) -> Path:
    """Write Event protos with TensorBoard's own (TF-free) event file writer."""
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(logdir))
    for ev in events:
        w.add_event(ev)
    w.close()
    (path,) = event_files(logdir)
    return path


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# --------------------------------------------------------------------------------------------
# Writing


def test_written_file_is_read_by_tensorboard(tmp_path):
    w = EventWriter(tmp_path / "logs")
    w.add_scalar("loss", 0.5, 1, wall_time=1700000000.25)
    w.add_scalar("loss", 0.25, 2)
    w.add_scalars([("acc", 0.9, 2), ("val/loss", -1.5, 3), ("big", 1e300, 2**40)])
    w.add_scalar("ü tag", float("nan"), -3)
    w.add_scalar("zero", 0.0)
    w.close()

    assert re.fullmatch(r"events\.out\.tfevents\.\d{10}\.[^/]+\.\d+\.\d+", w.path.name)
    assert w.path.parent == tmp_path / "logs"

    events = tb_events(w.path)
    assert events[0].file_version == "brain.Event:2"
    assert events[1].wall_time == 1700000000.25
    from tensorboard.util import tensor_util

    # Scalars are 0-d double tensors tagged for TensorBoard's scalars plugin: full precision.
    values = [e.summary.value[0] for e in events[1:]]
    assert {v.metadata.plugin_data.plugin_name for v in values} == {"scalars"}
    got = [(v.tag, tensor_util.make_ndarray(v.tensor).item(), e.step) for v, e in zip(values, events[1:])]
    want = [("loss", 0.5, 1), ("loss", 0.25, 2), ("acc", 0.9, 2), ("val/loss", -1.5, 3),
            ("big", 1e300, 2**40), ("ü tag", math.nan, -3), ("zero", 0.0, 0)]
    assert len(got) == len(want)
    for (t1, v1, s1), (t2, v2, s2) in zip(got, want):
        assert (t1, s1) == (t2, s2) and same(v1, v2)

    # TensorBoard's scalar view agrees.
    tbs = tb_scalars(w.path)
    assert [(t, s) for t, _, s in tbs] == [(t, s) for t, _, s in want]
    assert all(same(a[1], b[1]) for a, b in zip(tbs, want))

    # And we read back what we wrote.
    ours = list(read_scalars(w.path))
    assert [(t, s) for t, _, s, _ in ours] == [(t, s) for t, _, s in want]
    assert all(same(a[1], b[1]) for a, b in zip(ours, want))
    assert ours[0][3] == 1700000000.25


def test_writer_flush_makes_scalars_visible_while_writing(tmp_path):
    w = EventWriter(tmp_path)
    w.add_scalar("loss", 1.0, 1)
    assert list(read_scalars(w.path)) == []  # buffered until flush
    w.flush()
    assert [x[:3] for x in read_scalars(w.path)] == [("loss", 1.0, 1)]
    w.add_scalar("loss", 0.5, 2)
    w.close()
    w.close()  # harmless
    assert [x[:3] for x in read_scalars(w.path)] == [("loss", 1.0, 1), ("loss", 0.5, 2)]
    with pytest.raises(ValueError):
        w.add_scalar("loss", 0.1, 3)


def test_unclosed_writer_is_flushed_when_collected(tmp_path):
    import gc

    w = EventWriter(tmp_path)
    w.add_scalar("loss", 0.5, None)  # None step: step 0
    path = w.path
    del w
    gc.collect()
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.5, 0)]


def test_writers_in_one_dir_get_distinct_files(tmp_path):
    with EventWriter(tmp_path) as a, EventWriter(tmp_path) as b:
        a.add_scalar("x", 1.0)
        b.add_scalar("x", 2.0)
    assert a.path != b.path
    assert sorted(v for _, _, v, _ in run_scalars(tmp_path)) == [1.0, 2.0]


# --------------------------------------------------------------------------------------------
# Reading others' files


def test_reads_tensorboardx_summary_writer(tmp_path):
    import numpy as np
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(tmp_path / "tbx"))
    for i in range(3):
        w.add_scalar("loss", 1.0 / (i + 1), i)
        w.add_scalar("train/acc", np.float32(0.5 + i / 10), i * 10)
    w.add_histogram("weights", np.arange(10), 1)  # not a scalar
    w.add_text("note", "hello", 1)  # not a scalar
    w.add_scalars("grp", {"a": 1.0, "b": 2.0}, 7)  # one sub-directory per key
    w.close()

    rows = run_scalars(tmp_path)
    assert [r for r in rows if r[0] == "tbx"] == [
        ("tbx", "loss", 1.0, 0), ("tbx", "train/acc", f32(0.5), 0),
        ("tbx", "loss", 0.5, 1), ("tbx", "train/acc", f32(0.6), 10),
        ("tbx", "loss", f32(1 / 3), 2), ("tbx", "train/acc", f32(0.7), 20),
    ]
    assert ("tbx/grp/a", "grp", 1.0, 7) in rows
    assert ("tbx/grp/b", "grp", 2.0, 7) in rows
    assert {r[1] for r in rows} == {"loss", "train/acc", "grp"}


def test_reads_events_as_torch_summary_writer_writes_them(tmp_path):
    """PyTorch's ``SummaryWriter`` writes through TensorBoard's own ``EventFileWriter`` (in the
    lock; torch is not): ``add_scalar`` a ``simple_value``, ``add_scalar(new_style=True)`` a
    DT_FLOAT tensor with the scalars plugin's metadata. The same writer and protos, here."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    w = EventFileWriter(str(tmp_path / "pt"))
    for i in range(3):
        old = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (i + 1))
        new = summary_pb2.Summary.Value(tag="lr", tensor=tensor_pb2.TensorProto(
            dtype=types_pb2.DT_FLOAT, float_val=[0.1], tensor_shape={}))
        new.metadata.plugin_data.plugin_name = "scalars"
        for v in (old, new):
            w.add_event(event_pb2.Event(wall_time=1.0 + i, step=i, summary=summary_pb2.Summary(value=[v])))
    w.close()
    rows = run_scalars(tmp_path)
    assert [(t, s) for _, t, _, s in rows] == [
        ("loss", 0), ("lr", 0), ("loss", 1), ("lr", 1), ("loss", 2), ("lr", 2)]
    assert [v for _, t, v, _ in rows if t == "lr"] == [f32(0.1)] * 3
    assert [v for _, t, v, _ in rows if t == "loss"] == [1.0, 0.5, f32(1 / 3)]


def _tensor_value(tag, tensor, plugin=None):
    from tensorboard.compat.proto import summary_pb2

    v = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if plugin is not None:
        v.metadata.plugin_data.plugin_name = plugin
    return v


def _event(step, *values, wall_time=1.0):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=list(values)))


def test_reads_tensor_encoded_scalars(tmp_path):
    """TF2/Keras write scalars as one-element tensors, with the 'scalars' plugin metadata on the
    first event of a tag only; every numeric dtype and both encodings count."""
    import numpy as np
    from tensorboard.compat.proto import tensor_pb2, tensor_shape_pb2, types_pb2
    from tensorboard.util import tensor_util

    def content(value, dtype):  # tensor_content, as TF's C++ writer produces it
        return tensor_util.make_tensor_proto(np.array(value, dtype=dtype))

    events = [
        # A Keras-style series: metadata first, then bare tensors (float32 tensor_content).
        _event(0, _tensor_value("epoch_loss", content(0.75, np.float32), "scalars")),
        _event(1, _tensor_value("epoch_loss", content(0.5, np.float32))),
        _event(2, _tensor_value("epoch_loss", content(0.25, np.float32))),
        # Other dtypes and the *_val encodings.
        _event(3, _tensor_value("f64", content(0.1, np.float64))),
        _event(3, _tensor_value("f64_val", tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE,
                                                                 double_val=[0.2]))),
        _event(3, _tensor_value("f32_val", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT,
                                                                 float_val=[0.5]))),
        _event(4, _tensor_value("half", content(1.5, np.float16))),
        _event(4, _tensor_value("half_val", tensor_pb2.TensorProto(dtype=types_pb2.DT_HALF,
                                                                  half_val=[0x3E00]))),  # 1.5
        _event(5, _tensor_value("i32", content(-7, np.int32))),
        _event(5, _tensor_value("i64_val", tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64,
                                                                 int64_val=[2**40]))),
        _event(5, _tensor_value("one_by_one", content([[3.0]], np.float32))),
        # Not scalars: a text tensor, an hparams summary, a histogram-shaped tensor, a string,
        # and a later bare tensor of the text tag.
        _event(6, _tensor_value("note", content(1.0, np.float32), "text")),
        _event(6, _tensor_value("_hparams_/session_start_info",
                                tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT,
                                                       tensor_shape=tensor_shape_pb2.TensorShapeProto(
                                                           dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=0)])),
                                "hparams")),
        _event(6, _tensor_value("vector", content([1.0, 2.0], np.float32))),
        _event(6, _tensor_value("str", tensor_util.make_tensor_proto("hello"))),
        _event(7, _tensor_value("note", content(2.0, np.float32))),
        # Many values in one event (TF1 merged summaries), simple and tensor.
        _event(8, _tensor_value("m1", content(8.0, np.float32)),
               _tensor_value("m2", tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[9.0]))),
    ]
    path = write_with_tensorboard(tmp_path, events)
    got = [(t, v, s) for t, v, s, _ in read_scalars(path)]
    assert got == [
        ("epoch_loss", 0.75, 0), ("epoch_loss", 0.5, 1), ("epoch_loss", 0.25, 2),
        ("f64", 0.1, 3), ("f64_val", 0.2, 3), ("f32_val", 0.5, 3),
        ("half", 1.5, 4), ("half_val", 1.5, 4),
        ("i32", -7.0, 5), ("i64_val", float(2**40), 5), ("one_by_one", 3.0, 5),
        ("m1", 8.0, 8), ("m2", 9.0, 8),
    ]
    # TensorBoard agrees on the scalar ones it can read.
    tb = {(t, s): v for t, v, s in tb_scalars(path) if t.startswith(("epoch_loss", "f64"))}
    assert tb == {("epoch_loss", 0): 0.75, ("epoch_loss", 1): 0.5, ("epoch_loss", 2): 0.25,
                  ("f64", 3): 0.1, ("f64_val", 3): 0.2}


def test_what_one_file_teaches_the_reader_holds_in_that_file_only(tmp_path):
    """The reader remembers event layouts across files (most runs' files are alike), but a bare
    tensor is a scalar or not by its own file's metadata: the same bytes after a 'scalars'
    tag in one file and after a 'text' tag in the next must read differently."""
    import numpy as np
    from tensorboard.util import tensor_util

    def t(v):
        return tensor_util.make_tensor_proto(np.array(v, dtype=np.float32))

    a = write_with_tensorboard(tmp_path / "a", [
        _event(0, _tensor_value("x", t(0.5), "scalars")), _event(1, _tensor_value("x", t(0.25))),
        _event(2, _tensor_value("y", t(1.0), "scalars"))])
    b = write_with_tensorboard(tmp_path / "b", [
        _event(0, _tensor_value("x", t(0.5), "text")), _event(1, _tensor_value("x", t(0.25))),
        _event(2, _tensor_value("y", t(1.0), "scalars")), _event(3, _tensor_value("y", t(2.0)))])
    for _ in range(2):  # and again, with everything both files teach already known
        assert [(tag, v, s) for tag, v, s, _ in read_scalars(a)] == [("x", 0.5, 0), ("x", 0.25, 1), ("y", 1.0, 2)]
        assert [(tag, v, s) for tag, v, s, _ in read_scalars(b)] == [("y", 1.0, 2), ("y", 2.0, 3)]


def test_reads_guild_made_event_files():
    """Event files written by real Guild AI 0.9 (tests/fixtures/guild-runs)."""
    run_dirs = sorted(p for p in FIXTURE_RUNS.iterdir() if p.is_dir())
    assert run_dirs
    for run_dir in run_dirs:
        assert run_scalars(run_dir) == [
            (".guild", "loss", 0.5, 1), (".guild", "loss", 0.25, 2),
            (".guild", "acc", 0.8999999761581421, 2),
        ]


# --------------------------------------------------------------------------------------------
# Damaged files


def _three_records(tmp_path) -> tuple[Path, bytes, list[int]]:
    """An event file with 3 scalars: its path, bytes and record offsets (version event first)."""
    with EventWriter(tmp_path) as w:
        for i in range(3):
            w.add_scalar("loss", float(i), i)
    data = w.path.read_bytes()
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        pos += 16 + struct.unpack_from("<Q", data, pos)[0]
    assert len(offsets) == 4 and pos == len(data)
    return w.path, data, offsets


def test_truncated_last_record_is_ignored(tmp_path):
    path, data, offsets = _three_records(tmp_path)
    for end in range(offsets[3], len(data)):  # every cut inside the last record
        path.write_bytes(data[:end])
        assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 1.0, 1)]
    for end in (0, 5, offsets[1]):
        path.write_bytes(data[:end])
        assert list(read_scalars(path)) == []


def test_corrupt_records_are_skipped(tmp_path):
    path, data, offsets = _three_records(tmp_path)
    second = offsets[2]  # the record of the 2nd scalar

    bad = bytearray(data)
    bad[second + 12 + 5] ^= 0xFF  # in its data: the data CRC fails
    path.write_bytes(bytes(bad))
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 2.0, 2)]

    bad = bytearray(data)
    bad[second + 1] ^= 0x55  # in its length: the reader finds the next record and goes on
    path.write_bytes(bytes(bad))
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 2.0, 2)]

    # A zero-filled region (a crash while the file system preallocated) and random garbage
    # between records: skipped quickly, the records after them still read.
    path.write_bytes(data[:second] + b"\x00" * (4 << 20) + bytes(range(256)) * 4096 + data[second:]
                     + b"\x00" * (4 << 20))
    t0 = time.perf_counter()
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 1.0, 1), ("loss", 2.0, 2)]
    assert time.perf_counter() - t0 < 5

    # Garbage between records, and a file of garbage.
    path.write_bytes(data[:second] + b"\x07garbage\x00" * 5 + data[second:])
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 1.0, 1), ("loss", 2.0, 2)]
    path.write_bytes(b"\x00" * 64 + b"not an event file at all" * 10)
    assert list(read_scalars(path)) == []


def test_record_with_valid_crc_but_bad_protobuf_is_skipped(tmp_path):
    from crc32c import crc32c

    def masked(b):
        c = crc32c(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    def record(data):
        n = struct.pack("<Q", len(data))
        return n + struct.pack("<I", masked(n)) + data + struct.pack("<I", masked(data))

    path, data, offsets = _three_records(tmp_path)
    overlong = record(b"\x09\x00\x00\x00\x00\x00\x00\xf0\x3f\x2a\xff\xff\xff\xff\x0f")
    bad_wire_type = record(b"\x0f\x0f")
    last = len(data) - offsets[3]
    path.write_bytes(data[:-last] + overlong + bad_wire_type + data[-last:])
    assert [x[:3] for x in read_scalars(path)] == [("loss", 0.0, 0), ("loss", 1.0, 1), ("loss", 2.0, 2)]


# --------------------------------------------------------------------------------------------
# Finding event files in a run


def test_event_files_and_run_scalars_paths(tmp_path):
    run = tmp_path / "run"
    with EventWriter(run / ".guild") as w:
        w.add_scalar("loss", 0.5, 1)
    with EventWriter(run) as w:
        w.add_scalar("root", 1.0)
    with EventWriter(run / "logs" / "train") as w:
        w.add_scalar("epoch_loss", 0.3, 1)
    with EventWriter(run / "logs" / "validation") as w:
        w.add_scalar("epoch_loss", 0.4, 1)
    (run / "model.txt").write_text("not events")
    # A symlinked directory (a batch run's trial) is not followed; a .tfevents. name anywhere counts.
    other = tmp_path / "other"
    with EventWriter(other) as w:
        w.add_scalar("elsewhere", 9.0)
    os.symlink(other, run / "trial")
    shutil.copy(w.path, run / "logs" / "copy.tfevents.x")

    files = event_files(run)
    assert files == sorted(files)
    assert [f.parent.relative_to(run).as_posix() for f in files] == [
        ".guild", ".", "logs", "logs/train", "logs/validation"]
    rows = run_scalars(run)
    assert sorted(rows) == sorted([
        ("", "root", 1.0, 0), (".guild", "loss", 0.5, 1), ("logs", "elsewhere", 9.0, 0),
        ("logs/train", "epoch_loss", 0.3, 1), ("logs/validation", "epoch_loss", 0.4, 1),
    ])
    assert run_scalars(tmp_path / "missing") == []


# --------------------------------------------------------------------------------------------
# Speed (measured and printed; the floors only catch gross regressions)


def test_speed_write_and_read(tmp_path, capsys):
    n = 300_000
    items = [("loss" if i % 2 else "accuracy", i * 1e-3, i // 2) for i in range(n)]
    t0 = time.perf_counter()
    w = EventWriter(tmp_path)
    for k in range(0, n, 5000):
        w.add_scalars(items[k:k + 5000])
    w.close()
    write_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    rows = run_scalars(tmp_path)
    read_s = time.perf_counter() - t0
    assert len(rows) == n
    assert rows[-1] == ("", "loss", (n - 1) * 1e-3, (n - 1) // 2)
    with capsys.disabled():
        print(f"\n[tfevents] write {n / write_s:,.0f} events/s, read {n / read_s:,.0f} events/s "
              f"({os.path.getsize(w.path) / n:.0f} bytes/event)")
    # Far below the figures printed above (~300,000/s on 2 busy cores): catches a reader or
    # writer gone quadratic, without flaking on a loaded machine (benchmarks/ measure speed).
    assert n / write_s > 20_000
    assert n / read_s > 20_000


def test_run_series_matches_the_exact_reader(tmp_path):
    """The bulk decoder behind the web view's charts gives what run_scalars gives."""
    import numpy as np

    from runyard.store.tfevents import run_series

    run = tmp_path / "run"
    with EventWriter(run / ".guild") as w:
        w.add_scalars([("loss", 1.0 / (i + 1), i) for i in range(20000)])  # step varints of 1, 2 and 3 bytes
        w.add_scalars([("a", 1.0, 5), ("b", 2.0, 5), ("a", 1.5, 6)])  # interleaved tags: one by one
        w.add_scalars([("loss", float(i), 7) for i in range(300)])  # one step, many values
        w.add_scalar("big", 1e300, 2**40)
        # one record of a same-length tag deep in a long run: past the first windows the bulk
        # decoder checks records in
        w.add_scalars([("lost" if i == 30000 else "loss", float(i), 8) for i in range(40000)])
    tbx = pytest.importorskip("tensorboardX")
    sw = tbx.SummaryWriter(str(run / "logs"))  # float32 simple_value records
    for i in range(500):
        sw.add_scalar("acc", i / 500, i)
    sw.close()
    with open(next((run / ".guild").glob("events.*")), "ab") as f:
        f.write(b"\x00" * 7)  # a truncated record at the end, as while a run writes
    exact: dict = {}
    for path, tag, value, step in run_scalars(run):
        exact.setdefault((path, tag), []).append((step, value))
    series = run_series(run)
    assert set(series) == set(exact)
    for key, (steps, values) in series.items():
        assert steps.dtype == np.int64 and values.dtype == np.float64
        assert list(zip(steps.tolist(), values.tolist())) == exact[key], key
    assert len(series[(".guild", "loss")][0]) == 60299 and len(series[("logs", "acc")][0]) == 500
    assert series[(".guild", "lost")][1].tolist() == [30000.0]
