"""TensorBoard event files, read and written without TensorFlow or a protobuf library.

An event file is a sequence of records, each framed as::

    uint64 length (LE) | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)

where ``data`` is a serialized ``tensorflow.Event`` message. Only the few protobuf fields that
scalars need are encoded or decoded here, by hand:

- ``Event``: wall_time (1, double), step (2, int64), file_version (3, string), summary (5);
- ``Summary``: value (1, repeated);
- ``Summary.Value``: tag (1), simple_value (2, float), tensor (8, ``TensorProto``), metadata (9);
- ``TensorProto``: dtype (1), tensor_shape (2), tensor_content (4) and the ``*_val`` fields;
- ``SummaryMetadata``: plugin_data (1) -> ``PluginData.plugin_name`` (1).

Writing caches the encoded bytes of each tag, so a scalar costs a few concatenations and two
CRCs. Reading has a fast path for records laid out like ones already seen in the same file
(same tag and shape, only the wall time, step and value differ), and falls back to a small
generic decoder otherwise. Corrupt records are skipped; a truncated last record (a file still
being written) ends the read quietly.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import struct
import sys
import time
from pathlib import Path, PurePath
from typing import Any, Iterable, Iterator


def _load_crc32c():
    """The ``crc32c`` package's C function, loaded without the package's ``__init__``.

    ``import crc32c`` costs some 30 ms (it imports importlib.metadata and argparse for its
    command line); its extension module alone loads in under 1 ms. Falls back to the package.
    """
    mod = sys.modules.get("crc32c._crc32c")
    if mod is None:
        try:
            import importlib.util
            from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader

            spec = importlib.util.find_spec("crc32c")
            for d in (spec.submodule_search_locations or []) if spec else []:
                for suffix in EXTENSION_SUFFIXES:
                    path = os.path.join(d, "_crc32c" + suffix)
                    if os.path.exists(path):
                        loader = ExtensionFileLoader("crc32c._crc32c", path)
                        ext = importlib.util.spec_from_file_location("crc32c._crc32c", path, loader=loader)
                        mod = importlib.util.module_from_spec(ext)
                        loader.exec_module(mod)
                        sys.modules["crc32c._crc32c"] = mod
                        return mod.crc32c
        except Exception:  # noqa: BLE001 - any surprise: the ordinary import below
            pass
        from crc32c import crc32c

        return crc32c
    return mod.crc32c


_crc32c = _load_crc32c()

__all__ = ["EventWriter", "read_scalars", "event_files", "event_paths", "run_scalars"]

FILE_VERSION = b"brain.Event:2"

_S_D = struct.Struct("<d")
_S_F = struct.Struct("<f")
_S_I = struct.Struct("<I")
_S_Q = struct.Struct("<Q")
_S_QI = struct.Struct("<QI")
_U64 = 0xFFFFFFFFFFFFFFFF

_name_counter = itertools.count()
_hostname: str | None = None


def _masked_crc(data: bytes) -> int:
    c = _crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    """Protobuf varint of ``n`` (negative numbers as 64-bit two's complement)."""
    n &= _U64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag_byte: int, payload: bytes) -> bytes:
    return bytes((tag_byte,)) + _varint(len(payload)) + payload


def _step_field(step: int) -> bytes:
    """The Event.step field (absent for step 0, protobuf's default; None counts as 0)."""
    if not step:
        return b""
    step = int(step)
    if 0 < step < 0x80:
        return bytes((0x10, step))
    if 0 < step < 0x4000:
        return bytes((0x10, (step & 0x7F) | 0x80, step >> 7))
    if 0 < step < 0x200000:
        return bytes((0x10, (step & 0x7F) | 0x80, ((step >> 7) & 0x7F) | 0x80, step >> 14))
    return b"\x10" + _varint(step)


# ---------------------------------------------------------------------------------------------
# Writing


# Value.metadata = SummaryMetadata{plugin_data: PluginData{plugin_name: "scalars"}}
_SCALARS_METADATA = b"\x4a\x0b\x0a\x09\x0a\x07scalars"
# Value.tensor = TensorProto{dtype: DT_DOUBLE (2), double_val: [<8 bytes follow>]}
_DOUBLE_TENSOR_HEAD = b"\x42\x0c\x08\x02\x32\x08"


class EventWriter:
    """Append scalars to a new TensorBoard event file in ``logdir``.

    The file is ``events.out.tfevents.<time>.<host>.<pid>.<n>``; its first record is the
    ``brain.Event:2`` file-version event, as TensorBoard expects. Records are buffered in memory
    until :meth:`flush` (or :meth:`close`, or a large buffer).
    """

    _FLUSH_BYTES = 4 << 20  # buffered bytes before an automatic flush

    def __init__(self, logdir: str | Path):
        global _hostname
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        if _hostname is None:
            try:
                _hostname = os.uname().nodename
            except AttributeError:  # not POSIX
                import socket

                _hostname = socket.gethostname()
            _hostname = _hostname or "localhost"
        while True:
            name = f"events.out.tfevents.{int(time.time()):010d}.{_hostname}.{os.getpid()}.{next(_name_counter)}"
            try:
                self._f = open(logdir / name, "xb")
            except FileExistsError:
                continue
            break
        self.path: Path = logdir / name
        self._buf = bytearray()
        self._tags: dict[str, bytes] = {}
        self._headers: dict[int, bytes] = {}
        self._closed = False
        version = b"\x09" + _S_D.pack(time.time()) + _len_field(0x1A, FILE_VERSION)
        self._append(version)
        self.flush()

    # -- encoding helpers ---------------------------------------------------------------------

    def _tag_prefix(self, tag: str) -> bytes:
        """Bytes of an Event after wall_time and step, up to the 8 bytes of the double value.

        Scalars are written as 0-d DT_DOUBLE tensors with the ``scalars`` plugin's metadata (as
        TensorBoard's own ``tf.summary.scalar`` does), so printed values keep full precision;
        TensorBoard and Guild AI read them as scalars.
        """
        tb = tag.encode("utf-8", "replace")  # TensorBoard rejects invalid UTF-8
        value = _len_field(0x0A, tb) + _SCALARS_METADATA + _DOUBLE_TENSOR_HEAD
        value_len = len(value) + 8
        summary = b"\x0a" + _varint(value_len) + value  # Summary.value
        prefix = b"\x2a" + _varint(len(summary) + 8) + summary  # Event.summary
        self._tags[tag] = prefix
        return prefix

    def _header(self, n: int) -> bytes:
        q = _S_Q.pack(n)
        h = q + _S_I.pack(_masked_crc(q))
        self._headers[n] = h
        return h

    def _append(self, data: bytes) -> None:
        n = len(data)
        self._buf += self._headers.get(n) or self._header(n)
        self._buf += data
        self._buf += _S_I.pack(_masked_crc(data))

    # -- public API ---------------------------------------------------------------------------

    def add_scalar(self, tag: str, value: float, step: int = 0, wall_time: float | None = None) -> None:
        """Record one scalar (stored as a double, see :meth:`_tag_prefix`)."""
        self.add_scalars(((tag, value, step),), wall_time)

    def add_scalars(self, items: Iterable[tuple[str, float, int]], wall_time: float | None = None) -> None:
        """Record many ``(tag, value, step)`` scalars sharing one wall time (default: now)."""
        if self._closed:
            raise ValueError("EventWriter is closed")
        head = b"\x09" + _S_D.pack(time.time() if wall_time is None else wall_time)
        tags = self._tags
        headers = self._headers
        pack_f = _S_D.pack
        pack_i = _S_I.pack
        crc = _crc32c
        join = b"".join
        buf = self._buf
        last_step = 0
        sb = b""
        for tag, value, step in items:
            tp = tags.get(tag)
            if tp is None:
                tp = self._tag_prefix(tag)
            if step != last_step:
                last_step = step
                sb = _step_field(step)
            data = join((head, sb, tp, pack_f(value)))
            h = headers.get(len(data))
            if h is None:
                h = self._header(len(data))
            c = crc(data)
            buf += h
            buf += data
            buf += pack_i((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
        if len(buf) > self._FLUSH_BYTES:
            self.flush()

    def add_column(self, tag: str, values: list[float], steps: list[int], wall_time: float | None = None) -> None:
        """Record ``tag``'s ``values[i]`` at ``steps[i]``, all at one wall time: the same records
        as :meth:`add_scalars`, made a column at a time (:func:`_column_records`) when there are
        many and the steps never go down; else one by one."""
        if len(values) < 64 or steps != sorted(steps) or steps[0] < 0:
            self.add_scalars(zip(itertools.repeat(tag), values, steps), wall_time)
            return
        if self._closed:
            raise ValueError("EventWriter is closed")
        head = b"\x09" + _S_D.pack(time.time() if wall_time is None else wall_time)
        prefix = self._tags.get(tag) or self._tag_prefix(tag)
        # Runs of steps whose Event.step field has the same length: 0, then 1, 2, 3 ... varint bytes.
        start = 0
        for width, top in _STEP_WIDTHS:
            end = bisect.bisect_left(steps, top, start)
            if end > start:
                self._buf += _column_records(head, prefix, width, values[start:end], steps[start:end])
                start = end
        if start < len(values):
            self.add_scalars(zip(itertools.repeat(tag), values[start:], steps[start:]), wall_time)
        if len(self._buf) > self._FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write buffered records to the file (and the OS)."""
        if self._buf:
            self._f.write(self._buf)
            self._buf.clear()
        if not self._closed:
            self._f.flush()

    def close(self) -> None:
        """Flush and close the file. Closing twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._f.close()

    def __del__(self) -> None:
        # Best effort for a writer never closed: buffered scalars still reach the file.
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing sensible to do at collection time
            pass

    def __enter__(self) -> "EventWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EventWriter({str(self.path)!r})"



# ---------------------------------------------------------------------------------------------
# Writing a column of records at once
#
# Records of one tag whose steps take the same number of varint bytes have one layout; only the
# step's and the value's bytes differ. So n records are a template repeated n times, with the
# value (and step) bytes put in place by strided slice assignment, and the CRCs worked out from
# the first record's: CRC-32C is affine, so crc(r) = crc(r0) ^ sum over the differing bytes of
# a table of that byte's effect at its distance from the end. Each table lookup is a
# bytes.translate of a whole column (one table per byte of the 32-bit CRC), the sums are XORs of
# big integers, and the masking (rotate, add) is done on all CRCs at once, each in its own
# 64-bit slot of one big integer so no carry crosses into the next. No Python code runs per record.

_STEP_WIDTHS = ((0, 1), (2, 1 << 7), (3, 1 << 14), (4, 1 << 21), (5, 1 << 28))  # (field bytes, steps below)
_crc_tables: dict[int, tuple[bytes, bytes, bytes, bytes]] = {}


def _crc_lanes(distance: int) -> tuple[bytes, bytes, bytes, bytes]:
    """Four translate tables: the bytes of the CRC change made by a byte ``b`` in place of a
    zero byte ``distance`` bytes from the end of a message (1 = the last byte)."""
    lanes = _crc_tables.get(distance)
    if lanes is None:
        zeros = bytes(distance - 1)
        z = _crc32c(bytes(distance))
        effect = [_crc32c(bytes((b,)) + zeros) ^ z for b in range(256)]
        lanes = tuple(bytes((e >> shift) & 0xFF for e in effect) for shift in (0, 8, 16, 24))
        _crc_tables[distance] = lanes  # type: ignore[assignment]
    return lanes  # type: ignore[return-value]


def _slots(pattern: bytes, n: int) -> int:
    return int.from_bytes(pattern * n, "little")


def _column_records(head: bytes, prefix: bytes, width: int, values: list[float], steps: list[int]) -> bytes:
    """The framed records of ``values`` at ``steps`` (each step's field ``width`` bytes long)."""
    from array import array

    n = len(values)
    vb = array("d", values)
    if sys.byteorder != "little":
        vb.byteswap()
    vbytes = vb.tobytes()
    step_cols: list[bytes] = []
    if width:
        sb = array("Q", steps)
        if sys.byteorder != "little":
            sb.byteswap()
        x = int.from_bytes(sb.tobytes(), "little")
        for i in range(width - 1):  # the varint's bytes: 7 bits each, the high bit on all but the last
            low = (x >> (7 * i)).to_bytes(8 * n, "little")[0::8]
            step_cols.append(low.translate(_VARINT_MORE if i < width - 2 else _VARINT_LAST))
    # The first record with zeros where the records differ: its CRC, and each differing byte's
    # effect on it, give every record's CRC.
    first = head + ((b"\x10" + bytes(len(step_cols))) if width else b"") + prefix + bytes(8)
    size = len(first)
    framed = _S_Q.pack(size)
    framed += _S_I.pack(_masked_crc(framed)) + first + b"\0\0\0\0"
    rec = len(framed)
    buf = bytearray(framed * n)
    data_at = 12
    acc = 0  # the CRC changes, lane by lane: n low bytes, n second bytes ...
    columns = [(len(head) + 1 + i, col) for i, col in enumerate(step_cols)]
    value_at = size - 8
    columns += [(value_at + k, vbytes[k::8]) for k in range(8)]
    for pos, col in columns:
        buf[data_at + pos::rec] = col
        acc ^= int.from_bytes(b"".join([col.translate(table) for table in _crc_lanes(size - pos)]), "little")
    lanes = acc.to_bytes(4 * n, "little")
    slots = bytearray(8 * n)
    for lane in range(4):
        slots[lane::8] = lanes[lane * n:(lane + 1) * n]
    ones = _slots(b"\1\0\0\0\0\0\0\0", n)  # 1 in each slot: times v, v in each slot
    c = int.from_bytes(slots, "little") ^ (_crc32c(first) * ones)
    c = ((c >> 15) & (0x1FFFF * ones)) | ((c << 17) & (0xFFFE0000 * ones))
    c = (c + 0xA282EAD8 * ones) & (0xFFFFFFFF * ones)
    cb = c.to_bytes(8 * n + 8, "little")
    for k in range(4):
        buf[rec - 4 + k::rec] = cb[k:8 * n:8]
    return bytes(buf)


_VARINT_MORE = bytes((b & 0x7F) | 0x80 for b in range(256))
_VARINT_LAST = bytes(b & 0x7F for b in range(256))

# ---------------------------------------------------------------------------------------------
# Reading: a minimal protobuf decoder


class _Corrupt(Exception):
    pass


def _read_varint(b: bytes, i: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise _Corrupt("varint too long")


def _fields(b: bytes, i: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field, wire_type, a, b)`` for each field of the message in ``b[i:end]``.

    Varints give ``(field, 0, value, 0)``; others give the byte span ``a:b`` of the payload.
    """
    while i < end:
        key, i = _read_varint(b, i)
        field = key >> 3
        wt = key & 7
        if wt == 0:
            v, i = _read_varint(b, i)
            yield field, 0, v, 0
            continue
        if wt == 2:
            n, i = _read_varint(b, i)
            j = i + n
        elif wt == 5:
            j = i + 4
        elif wt == 1:
            j = i + 8
        else:
            raise _Corrupt(f"unsupported wire type {wt}")
        if j > end:
            raise _Corrupt("field past end of message")
        yield field, wt, i, j
        i = j
    if i != end:
        raise _Corrupt("message overrun")


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


# TensorFlow DataType enum -> (struct format of one element in tensor_content, kind)
_DT_CONTENT = {
    1: ("<f", "f"),  # DT_FLOAT
    2: ("<d", "f"),  # DT_DOUBLE
    3: ("<i", "i"),  # DT_INT32
    4: ("<B", "i"),  # DT_UINT8
    5: ("<h", "i"),  # DT_INT16
    6: ("<b", "i"),  # DT_INT8
    9: ("<q", "i"),  # DT_INT64
    14: ("<H", "bf16"),  # DT_BFLOAT16
    17: ("<H", "i"),  # DT_UINT16
    19: ("<e", "f"),  # DT_HALF
    22: ("<I", "i"),  # DT_UINT32
    23: ("<Q", "i"),  # DT_UINT64
}


def _bf16(bits: int) -> float:
    return _S_F.unpack(_S_I.pack((bits & 0xFFFF) << 16))[0]


def _half(bits: int) -> float:
    return struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0]


def _decode_tensor(b: bytes, i: int, end: int) -> tuple[float, tuple[int, int, str] | None] | None:
    """The value of a one-element numeric TensorProto in ``b[i:end]``, or None.

    Also returns the span and struct format of the value bytes when they are fixed-size
    (float or double), for the reader's layout cache.
    """
    dtype = 0
    n_elems = 1
    content: tuple[int, int] | None = None
    vals: list[tuple[int, int, int, int]] = []  # raw *_val fields
    for f, wt, a, z in _fields(b, i, end):
        if f == 1 and wt == 0:
            dtype = a
        elif f == 2 and wt == 2:  # TensorShapeProto
            for sf, swt, sa, sz in _fields(b, a, z):
                if sf == 2 and swt == 2:  # Dim
                    size = 1
                    for df, dwt, da, _ in _fields(b, sa, sz):
                        if df == 1 and dwt == 0:
                            size = _signed64(da)
                    n_elems *= size
        elif f == 4 and wt == 2:
            content = (a, z)
        elif f in (5, 6, 7, 10, 13, 16, 17):
            vals.append((f, wt, a, z))
    if n_elems != 1 or dtype not in _DT_CONTENT:
        return None
    fmt, kind = _DT_CONTENT[dtype]
    if content is not None:
        a, z = content
        size = struct.calcsize(fmt)
        if z - a != size:
            return None
        v = struct.unpack_from(fmt, b, a)[0]
        if kind == "bf16":
            return _bf16(v), None
        span = (a, z, fmt) if fmt in ("<f", "<d") else None
        return float(v), span
    if len(vals) != 1:
        return None
    f, wt, a, z = vals[0]
    if f == 5:  # float_val
        if wt == 5 or (wt == 2 and z - a == 4):
            return _S_F.unpack_from(b, a)[0], (a, a + 4, "<f")
        return None
    if f == 6:  # double_val
        if wt == 1 or (wt == 2 and z - a == 8):
            return _S_D.unpack_from(b, a)[0], (a, a + 8, "<d")
        return None
    # varint-encoded values: int_val (7), int64_val (10), half_val (13), uint32 (16), uint64 (17)
    if wt == 0:
        raw = a
    elif wt == 2:
        raw, j = _read_varint(b, a)
        if j != z:
            return None
    else:
        return None
    if f == 13:
        return (_bf16(raw) if kind == "bf16" else _half(raw)), None
    if f in (7, 10):
        return float(_signed64(raw)), None
    return float(raw), None


def _plugin_name(b: bytes, i: int, end: int) -> str:
    for f, wt, a, z in _fields(b, i, end):
        if f == 1 and wt == 2:  # plugin_data
            for pf, pwt, pa, pz in _fields(b, a, z):
                if pf == 1 and pwt == 2:
                    return b[pa:pz].decode("utf-8", "replace")
    return ""


_SCALAR_PLUGINS = ("", "scalars")


def _decode_event(data: bytes, plugins: dict[str, str]):
    """Decode an Event: ``(wall_time, step, [(tag, value, span, own, plugin)], summary_is_last)``;
    ``own`` is true when the event alone says the value is a scalar (a ``simple_value``, or a
    tensor carrying its plugin metadata), false when it took the file's earlier metadata;
    ``plugin`` is the plugin name in the event's metadata (None without)."""
    wall_time = 0.0
    step = 0
    out = []
    summary_last = False
    for f, wt, a, z in _fields(data, 0, len(data)):
        summary_last = False
        if f == 1 and wt == 1:
            wall_time = _S_D.unpack_from(data, a)[0]
        elif f == 2 and wt == 0:
            step = _signed64(a)
        elif f == 5 and wt == 2:
            summary_last = True
            for sf, swt, sa, sz in _fields(data, a, z):
                if sf != 1 or swt != 2:
                    continue
                tag = None
                simple = None
                tensor = None
                plugin = None
                for vf, vwt, va, vz in _fields(data, sa, sz):
                    if vf == 1 and vwt == 2:
                        tag = data[va:vz].decode("utf-8", "replace")
                    elif vf == 2 and vwt == 5:
                        simple = va
                    elif vf == 8 and vwt == 2:
                        tensor = (va, vz)
                    elif vf == 9 and vwt == 2:
                        plugin = _plugin_name(data, va, vz)
                if tag is None:
                    continue
                if plugin is not None:
                    plugins[tag] = plugin
                if simple is not None:
                    out.append((tag, _S_F.unpack_from(data, simple)[0], (simple, simple + 4, "<f"), True, plugin))
                elif tensor is not None and plugins.get(tag, "") in _SCALAR_PLUGINS:
                    got = _decode_tensor(data, tensor[0], tensor[1])
                    if got is not None:
                        out.append((tag, got[0], got[1], plugin is not None, plugin))
    return wall_time, step, out, summary_last


# Event bytes after the step, minus a trailing float32 (float64) value -> (tag, plugin name or
# None), for events that say on their own that they hold a scalar (see _decode_event): those
# bytes decode the same way in any file, so this is shared by all files (most runs' event files
# are short and alike: each file's first events would otherwise be decoded field by field).
_SHARED4: dict[bytes, tuple[str, str | None]] = {}
_SHARED8: dict[bytes, tuple[str, str | None]] = {}
_SHARED_MAX = 50_000


def _shared_tag(shared: dict[bytes, tuple[str, str | None]], key: bytes, plugins: dict[str, str]) -> str | None:
    """The tag of an event layout another file taught (see _SHARED4), noting its plugin as
    the event's own metadata would; None if unknown."""
    got = shared.get(key)
    if got is None:
        return None
    if got[1] is not None:
        plugins[got[0]] = got[1]
    return got[0]


# Where a record header may start: a length below 4 GiB, so 4 bytes not all zero, then 4 zeros.
# (Lets resynchronisation skip zero-filled or garbage regions at C speed.)
_HEADER_CANDIDATE = re.compile(rb"(?s)(?=(?!\x00{4}).{4}\x00{4})")


def _resync(buf: bytes, pos: int) -> int:
    """Position of the next plausible record header at or after ``pos``, or -1."""
    n = len(buf)
    search = _HEADER_CANDIDATE.search
    unpack = _S_I.unpack_from
    while True:
        m = search(buf, pos)
        if m is None:
            return -1
        q = m.start()
        if q + 12 > n:
            return -1
        if _masked_crc(buf[q : q + 8]) == unpack(buf, q + 8)[0]:
            return q
        pos = q + 1


def _scan(buf: bytes, out: list, rel: str | None) -> None:
    """Append the scalars in the event-file bytes ``buf`` to ``out``.

    Items are ``(tag, value, step, wall_time)``, or ``(rel, tag, value, step)`` when ``rel``
    (an events directory) is given.
    """
    n = len(buf)
    pos = 0
    good_headers: dict[int, int] = {}
    cache4: dict[bytes, str] = {}  # Event bytes after the step, minus a trailing float32 -> tag
    cache8: dict[bytes, str] = {}  # ... minus a trailing float64 -> tag
    plugins: dict[str, str] = {}  # tag -> plugin name (metadata comes with a tag's first value)
    unpack_qi = _S_QI.unpack_from
    unpack_i = _S_I.unpack_from
    unpack_d = _S_D.unpack_from
    unpack_f = _S_F.unpack_from
    crc = _crc32c
    append = out.append
    with_path = rel is not None
    while pos + 12 <= n:
        length, hcrc = unpack_qi(buf, pos)
        if good_headers.get(length) != hcrc:
            if _masked_crc(buf[pos : pos + 8]) != hcrc:
                pos = _resync(buf, pos + 1)
                if pos < 0:
                    return
                continue
            good_headers[length] = hcrc
        start = pos + 12
        end = start + length
        if end + 4 > n:
            return  # truncated last record: the file is still being written
        pos = end + 4
        data = buf[start:end]
        c = crc(data)
        if (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF != unpack_i(buf, end)[0]:
            continue  # corrupt record
        if length > 11 and buf[start] == 0x09 and buf[start + 9] == 0x1A and buf[start + 10] == length - 11:
            continue  # only wall_time and file_version (every file's first record): no scalars
        # Fast path: a layout already seen in this file.
        p = -1
        if length > 13 and buf[start] == 0x09:
            if buf[start + 9] == 0x10:
                s = buf[start + 10]
                if s < 0x80:
                    step = s
                    p = start + 11
                elif buf[start + 11] < 0x80:
                    step = (s & 0x7F) | (buf[start + 11] << 7)
                    p = start + 12
                elif buf[start + 12] < 0x80:
                    step = (s & 0x7F) | ((buf[start + 11] & 0x7F) << 7) | (buf[start + 12] << 14)
                    p = start + 13
                else:
                    try:
                        step, p = _read_varint(buf, start + 10)
                    except (IndexError, _Corrupt):
                        continue
                    step = _signed64(step)
            else:
                step = 0
                p = start + 9
            tag = cache4.get(buf[p : end - 4])
            if tag is None:
                tag = _shared_tag(_SHARED4, buf[p : end - 4], plugins)
            if tag is not None:
                if with_path:
                    append((rel, tag, unpack_f(buf, end - 4)[0], step))
                else:
                    append((tag, unpack_f(buf, end - 4)[0], step, unpack_d(buf, start + 1)[0]))
                continue
            tag = cache8.get(buf[p : end - 8])
            if tag is None:
                tag = _shared_tag(_SHARED8, buf[p : end - 8], plugins)
            if tag is not None:
                if with_path:
                    append((rel, tag, unpack_d(buf, end - 8)[0], step))
                else:
                    append((tag, unpack_d(buf, end - 8)[0], step, unpack_d(buf, start + 1)[0]))
                continue
        try:
            wall_time, step, values, summary_last = _decode_event(data, plugins)
        except (_Corrupt, IndexError, struct.error, ValueError):
            continue
        for tag, value, _, _, _ in values:
            append((rel, tag, value, step) if with_path else (tag, value, step, wall_time))
        if p > 0 and summary_last and len(values) == 1:
            tag, _, span, own, plugin = values[0]
            if span is not None and span[1] == length:
                key = buf[p : end - 4] if span[2] == "<f" else buf[p : end - 8]
                if own and len(_SHARED4) + len(_SHARED8) < _SHARED_MAX:
                    (_SHARED4 if span[2] == "<f" else _SHARED8)[key] = (tag, plugin)
                elif len(cache4) + len(cache8) < 100_000:
                    (cache4 if span[2] == "<f" else cache8)[key] = tag


def read_scalars(path: str | Path) -> Iterator[tuple[str, float, int, float]]:
    """Yield ``(tag, value, step, wall_time)`` for every scalar in the event file ``path``.

    Scalars are ``simple_value`` summaries and one-element numeric tensors (float, double,
    half, bfloat16, integer dtypes; in ``tensor_content`` or the ``*_val`` fields), as TF2/Keras,
    PyTorch's SummaryWriter and tensorboardX write them. Tensors of other plugins (text,
    histograms, hparams, ...) are not scalars. Corrupt records are skipped and a truncated last
    record ends the file.
    """
    with open(path, "rb") as f:
        buf = f.read()
    out: list = []
    _scan(buf, out, None)
    del buf
    yield from out


def event_files(run_dir: str | Path) -> list[Path]:
    """Every file under ``run_dir`` whose name contains ``.tfevents.``, sorted.

    Symlinked directories are not followed (a batch run links its trials; they are runs of
    their own).
    """
    return [Path(p) for p in event_paths(os.fspath(run_dir))]


def event_paths(run_dir: str, guild_names: set[str] | None = None) -> list[str]:
    """:func:`event_files` as strings (the cold index reads every run's: no pathlib here).

    ``.guild/attrs`` holds only attribute files and is not looked into. With ``guild_names``,
    the names in ``.guild`` are added to it (the index learns the run's marker files from the
    same listing)."""
    found: list[str] = []
    guild = run_dir + "/.guild"
    attrs = guild + "/attrs"
    stack = [run_dir]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        names = guild_names if guild_names is not None and d == guild else None
        with it:
            for entry in it:
                if names is not None:
                    names.add(entry.name)
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                if is_dir:
                    if not entry.is_symlink() and entry.path != attrs:
                        stack.append(entry.path)
                elif ".tfevents." in entry.name:
                    found.append(entry.path)
    if len(found) > 1:
        found.sort(key=lambda p: [x for x in p.split("/") if x not in ("", ".")])  # as Paths sort
    return found


def run_scalars(run_dir: str | Path, paths: list[str] | None = None) -> list[tuple[str, str, float, int]]:
    """``(path, tag, value, step)`` for every scalar in every event file under ``run_dir``
    (or in ``paths``, from :func:`event_paths`).

    ``path`` is the event file's directory relative to ``run_dir`` in POSIX form: ``.guild``
    for output scalars, ``''`` for the run directory itself, ``logs/train`` and so on. Files
    that cannot be read are skipped.
    """
    out: list[tuple[str, str, float, int]] = []
    for rel, buf in _event_buffers(run_dir, paths):
        _scan(buf, out, rel)
    return out


def _event_buffers(run_dir: str | Path, paths: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """``(path, bytes)`` of each readable event file under ``run_dir`` (path as in run_scalars)."""
    from .attrs import read_bytes

    run_dir = os.fspath(run_dir)
    rels: dict[str, str] = {run_dir: "."}
    prefix = run_dir + "/"
    simple = os.path.normpath(run_dir) == run_dir and "/./" not in prefix  # (paths under it need no relpath)
    for path in event_paths(run_dir) if paths is None else paths:
        parent = os.path.dirname(path)
        rel = rels.get(parent)
        if rel is None:
            if parent.startswith(prefix) and simple:
                rel = parent[len(prefix):]
            else:
                rel = PurePath(os.path.relpath(parent, run_dir)).as_posix()
            rels[parent] = rel
        try:
            buf = read_bytes(path)
        except OSError:
            continue
        yield ("" if rel == "." else rel), buf


def run_series(run_dir: str | Path) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every scalar series of a run as numpy columns: ``{(path, tag): (steps, values)}``, in
    file order (not sorted). For charts: long runs of same-shaped records (one scalar per event,
    as runyard and most writers produce) are decoded in bulk, checking their structure but not
    each record's data checksum; everything else goes through :func:`_scan`."""
    import numpy as np

    parts: dict[tuple[str, str], tuple[list, list]] = {}
    for rel, buf in _event_buffers(run_dir):
        for tag, steps, values in _bulk_scan(buf, np):
            s, v = parts.setdefault((rel, tag), ([], []))
            s.append(steps)
            v.append(values)
    return {k: (np.concatenate(s) if len(s) > 1 else s[0], np.concatenate(v) if len(v) > 1 else v[0])
            for k, (s, v) in parts.items()}


_BULK_MIN = 64  # records in a row before bulk decoding pays


def _bulk_scan(buf: bytes, np: Any) -> Iterator[tuple[str, Any, Any]]:
    """``(tag, steps, values)`` pieces of an event file, in order (see :func:`run_series`)."""
    n = len(buf)
    pos = 0
    pending: list = []  # (tag, value, step) from the record-by-record path

    def flush_pending():
        if pending:
            by_tag: dict[str, tuple[list, list]] = {}
            for tag, value, step in pending:
                s, v = by_tag.setdefault(tag, ([], []))
                s.append(step)
                v.append(value)
            for tag, (s, v) in by_tag.items():
                yield tag, np.asarray(s, np.int64), np.asarray(v, np.float64)
            pending.clear()

    while pos + 12 <= n:
        length = int.from_bytes(buf[pos:pos + 8], "little")
        size = length + 16
        if pos + size > n:
            break
        layout = _layout(buf, pos, length)
        if layout is not None and pos + size * _BULK_MIN <= n and \
                buf[pos + size:pos + size + 8] == buf[pos:pos + 8]:
            got = _bulk_run(buf, pos, size, layout, np)
            if got is not None:
                count, tag, steps, values = got
                yield from flush_pending()
                yield tag, steps, values
                pos += count * size
                continue
        # One record the ordinary way (it may hold several values, or a layout we don't bulk).
        out: list = []
        _scan(buf[pos:pos + size], out, None)
        pending.extend((tag, value, step) for tag, value, step, _ in out)
        pos += size
    if pos < n:  # a record we could not frame here (a corrupt stretch): let _scan resync
        out = []
        _scan(buf[pos:], out, None)
        pending.extend((tag, value, step) for tag, value, step, _ in out)
    yield from flush_pending()


def _layout(buf: bytes, pos: int, length: int) -> tuple[int, int, int, str, str] | None:
    """For a one-scalar record at ``pos``: (step offset, step bytes, value offset, value format,
    tag) relative to the record, or None. Known shapes: our double tensors, simple_value floats."""
    start = pos + 12
    end = start + length
    if length < 14 or buf[start] != 0x09:
        return None
    if buf[start + 9] == 0x10:
        k = 0
        while start + 10 + k < end and buf[start + 10 + k] & 0x80:
            k += 1
        k += 1
        if k > 8:
            return None
        step_off = 22
    else:
        k, step_off = 0, 0
    out: list = []
    _scan(buf[pos:end + 4], out, None)
    if len(out) != 1:
        return None
    tag = out[0][0]
    if buf[end - 8 - len(_DOUBLE_TENSOR_HEAD):end - 8] == _DOUBLE_TENSOR_HEAD:
        return step_off, k, 12 + length - 8, "<f8", tag
    if buf[end - 5] == 0x15:
        return step_off, k, 12 + length - 4, "<f4", tag
    return None


def _bulk_run(buf: bytes, pos: int, size: int, layout: tuple, np: Any):
    """Decode the records from ``pos`` that share the first one's shape: (count, tag, steps,
    values), or None when fewer than _BULK_MIN do."""
    step_off, k, val_off, fmt, tag = layout
    m = (len(buf) - pos) // size
    width = 8 if fmt == "<f8" else 4
    # Every byte that is neither wall time, step, value nor data checksum must match record 0.
    cuts = sorted([(13, 21), (val_off, val_off + width), (size - 4, size)] +
                  ([(step_off, step_off + k)] if k else []))
    const, at = [], 0
    for a, b in cuts:
        if a > at:
            const.append((at, a))
        at = max(at, b)
    # Each constant stretch is compared as 8-, 4-, 2- and 1-byte words, one strided view per
    # word (a column of every record's bytes there): a few passes over the records, not a byte
    # matrix per stretch (5× faster at a million records).
    words = []
    for a, b in const:
        while a < b:
            w = next(w for w in (8, 4, 2, 1) if b - a >= w)
            words.append((a, np.dtype(f"<u{w}")))
            a += w

    def column(start, count, at, dtype):  # bytes ``at`` of records start.., as one number each
        return np.ndarray((count,), dtype, buffer=buf, offset=pos + start * size + at, strides=(size,))

    def shaped(start, count):
        ok = np.ones(count, bool)
        for at, dtype in words:
            ok &= column(start, count, at, dtype) == column(0, 1, at, dtype)[0]
        for j in range(k):  # a varint step: continuation bits on all but its last byte
            more = (column(start, count, step_off + j, np.uint8) & 0x80) != 0
            ok &= more if j < k - 1 else ~more
        return ok

    count, window = 0, 1024
    while count < m:  # look ahead in growing windows: a shape may change after a few records
        ok = shaped(count, min(window, m - count))
        if not ok.all():
            count += int(np.argmin(ok))
            break
        count += len(ok)
        window = min(window * 2, 16384)  # (a window that fits in the CPU cache: one trip to memory)
    if count < _BULK_MIN:
        return None
    steps = np.zeros(count, np.int64)
    for j in range(k):
        steps |= (column(0, count, step_off + j, np.uint8).astype(np.int64) & 0x7F) << (7 * j)
    return count, tag, steps, column(0, count, val_off, np.dtype(fmt)).astype(np.float64)
