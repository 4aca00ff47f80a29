"""Push runs to a remote and pull them back, over fsspec (s3fs, sshfs, the local filesystem).

On the remote, each push sends a run's new or changed files as one zip (a *pack*), and each
pushing home keeps one *index shard* — few, large requests, which is what object stores are
fast at::

    ROOT/packs/<run id>/<pack>.zip     files of one run sent by one push (stored as zip members)
    ROOT/.runyard/index/<home>.json    per run this home pushed: its listing record, every
                                       file's size, mtime, mode and pack, its links, and when
                                       (a deletion is kept as a dated tombstone)
    ROOT/.runyard/listing/<home>.json  the same without files and links: what ``runs --remote``
                                       reads (written after the index shard)

The remote's view of a run is the newest entry among the shards. A shard is written after the
packs it names, so a run is on the remote (listed, pullable) only once its files are. Both
directions are incremental (a file is sent again only when its size or mtime changed); a pull
builds the run in ``<home>/runs/.pull-<id>`` (hidden from listings) and renames it into place
whole.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator

from ..errors import RunyardError, UsageError
from ..store.paths import stays_on_machine
from .config import Remote

_META = ".runyard"


class RemoteError(RunyardError):
    """A remote that can't be reached or used (one line, nothing changed locally)."""


def is_run_id(name: str) -> bool:
    """Run ids are exactly 32 lowercase hex digits (the rule import applies)."""
    from ..store.archive import RUN_ID

    return isinstance(name, str) and RUN_ID.match(name) is not None


@dataclass
class Transfer:
    """What a push or pull did."""

    sent: list[str] = field(default_factory=list)        # runs copied (new or changed)
    unchanged: list[str] = field(default_factory=list)   # runs already up to date
    skipped: list[str] = field(default_factory=list)     # running runs, and refused ones
    deleted: list[str] = field(default_factory=list)     # runs removed by --delete
    files: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


# --- the filesystem -------------------------------------------------------------------------

def filesystem(remote: Remote) -> tuple[Any, str]:
    """(fsspec filesystem, root path on it) for ``remote``."""
    scheme, rest = remote.url.split("://", 1)
    opts = dict(remote.options)
    with remote_errors(remote):
        if scheme == "file":
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem(), "/" + rest.lstrip("/")
        if scheme == "s3":
            s3fs = _import_s3fs()
            # Fail fast on an unreachable endpoint (botocore's default retries take ~15 s).
            opts.setdefault("config_kwargs", {"connect_timeout": 5, "retries": {"max_attempts": 2}})
            return s3fs.S3FileSystem(**opts), rest.strip("/")
        if scheme in ("ssh", "sftp"):
            try:
                with _quiet_import():
                    import sshfs
            except ImportError:
                raise UsageError("SSH remotes need sshfs: pip install 'runyard[remotes]'") from None
            netloc, _, path = rest.partition("/")
            user, _, hostport = netloc.rpartition("@")
            host, _, port = hostport.partition(":")
            if user:
                opts.setdefault("username", user)
            if port:
                opts.setdefault("port", int(port))
            return sshfs.SSHFileSystem(host, **opts), "/" + path
    raise UsageError(f"unsupported remote URL {remote.url!r}")


@contextmanager
def _quiet_import() -> Iterator[None]:
    """Import a backend without its import-time warnings.

    asyncssh (under sshfs) warns ten times that cryptography deprecates DSA as it loads: nothing a
    user can act on, and it buried the one line that says what went wrong with the remote.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _import_s3fs() -> Any:
    """s3fs, without aiobotocore's optional httpx backend (s3fs talks through aiohttp).

    aiobotocore imports httpx when it is installed, and httpx imports its command-line client
    (rich, pygments): a quarter of the time ``runs --remote`` takes. aiobotocore supports httpx
    being absent, so it is hidden while s3fs loads (nothing changes if aiobotocore is loaded).
    """
    import sys

    hidden = [m for m in ("httpx", "httpx2") if "aiobotocore" not in sys.modules and m not in sys.modules]
    for m in hidden:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        with _quiet_import():
            import s3fs
    except ImportError:
        raise UsageError("S3 remotes need s3fs: pip install 'runyard[remotes]'") from None
    finally:
        for m in hidden:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return s3fs


@contextmanager
def remote_errors(remote: Remote) -> Iterator[None]:
    """Backend failures (unreachable host, bad credentials, missing bucket) -> one line."""
    try:
        yield
    except RunyardError:
        raise
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - every backend has its own exception tree
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RemoteError(f"remote {remote.name} ({remote.url}): {msg}") from None


def _read_json(fs: Any, path: str) -> Any:
    try:
        with fs.open(path, "rb") as f:
            data = f.read(64 * 1024 * 1024 + 1)
    except FileNotFoundError:
        return None
    if len(data) > 64 * 1024 * 1024:
        raise RemoteError(f"refusing {path}: over 64 MiB")
    try:
        return json.loads(data)
    except ValueError:
        raise RemoteError(f"{path} on the remote is not valid JSON") from None


def _write_json(fs: Any, path: str, value: Any) -> None:
    """Write whole or not at all: an object store's PUT is atomic; elsewhere temp + rename."""
    data = json.dumps(value, separators=(",", ":")).encode()
    if _is_object_store(fs):
        fs.pipe_file(path, data)
        return
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fs.pipe_file(tmp, data)
    fs.mv(tmp, path)


def _is_object_store(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("s3", "s3a", "gs", "gcs", "abfs", "az")


# --- the local side -------------------------------------------------------------------------

def _local_files(run_dir: Path) -> tuple[dict[str, list[int]], dict[str, str]]:
    """{relpath: [size, mtime_ns, mode]} and {relpath: link target} of a run directory."""
    files: dict[str, list[int]] = {}
    links: dict[str, str] = {}
    base = str(run_dir)
    for root, dirs, names in os.walk(base):
        rel_root = os.path.relpath(root, base)
        prefix = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        for d in list(dirs):
            p = os.path.join(root, d)
            if os.path.islink(p):
                links[prefix + d] = os.readlink(p)
                dirs.remove(d)
        for n in names:
            if stays_on_machine(prefix + n):
                continue
            p = os.path.join(root, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                links[prefix + n] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                files[prefix + n] = [st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)]
    return files, links


def _safe_rel(rel: str) -> bool:
    """A path that stays inside the run directory."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\\" not in rel and "\0" not in rel


def _plain_mode(mode: int) -> int:
    """Owner-writable, no setuid/setgid/sticky, nothing world-writable."""
    return (0o755 if mode & 0o111 else 0o644)


def _progress(total_runs: int, total_bytes: int, verb: str) -> tuple[Callable[[int], None], Callable[[], None],
                                                                    Callable[[], None]]:
    """(add_bytes, run_done, close): a rich progress bar of runs and bytes on a terminal."""
    import sys

    if not sys.stderr.isatty() or not total_runs:
        return (lambda n: None), (lambda: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
    prog.start()
    bt = prog.add_task(f"{verb} 0/{total_runs} runs", total=max(total_bytes, 1))
    done = [0]

    def add(n: int) -> None:
        prog.advance(bt, n)

    def run_done() -> None:
        done[0] += 1
        prog.update(bt, description=f"{verb} {done[0]}/{total_runs} runs")

    return add, run_done, prog.stop


# --- the remote's state --------------------------------------------------------------------

_PACK = frozenset("0123456789abcdefghijklmnopqrstuvwxyz-")


def _home_key(home_runs: Path) -> str:
    """This home's shard name: stable for a home, distinct between homes and machines."""
    import hashlib
    import socket

    digest = hashlib.sha256(f"{socket.gethostname()}:{home_runs.resolve()}".encode()).hexdigest()[:16]
    return f"{digest}"


def _read_shards(fs: Any, paths: list[str]) -> dict[str, dict]:
    """Shards by home name, read in one batched (concurrent) request; unreadable ones are skipped."""
    got = fs.cat(paths, on_error="omit") if paths else {}
    out = {}
    for path, data in got.items():
        if isinstance(data, Exception) or len(data) > 256 * 1024 * 1024:
            continue
        try:
            shard = json.loads(data)
        except ValueError:
            continue
        if isinstance(shard, dict):
            out[path.rsplit("/", 1)[-1][:-5]] = shard
    return out


def _shards(fs: Any, root: str) -> dict[str, dict]:
    """Every home's index shard, by name (one listing and one batched read)."""
    try:
        names = [n for n in fs.ls(f"{root}/{_META}/index", detail=False) if n.endswith(".json")]
    except FileNotFoundError:
        return {}
    return _read_shards(fs, names)


def _listing_shards(fs: Any, root: str) -> dict[str, dict]:
    """Every home's listing shard (records only: a fifth of the index), by name.

    One recursive listing and one batched read. A home with an index shard but no listing shard
    (pushed by an earlier runyard) is read from its index shard.
    """
    try:
        found = fs.find(f"{root}/{_META}")
    except FileNotFoundError:
        return {}
    kinds: dict[str, dict[str, str]] = {"index": {}, "listing": {}}
    for path in found:
        parts = path.rsplit("/", 2)
        if len(parts) == 3 and parts[1] in kinds and parts[2].endswith(".json"):
            kinds[parts[1]][parts[2]] = path
    listing = kinds["listing"]
    return _read_shards(fs, [*listing.values(), *(p for n, p in kinds["index"].items() if n not in listing)])


def _write_shards(fs: Any, root: str, key: str, mine: dict) -> None:
    """This home's index shard, then its listing shard (so nothing lists before it can be pulled)."""
    _write_json(fs, f"{root}/{_META}/index/{key}.json", {"runs": mine})
    listing = {rid: {k: e[k] for k in ("record", "pushed", "deleted") if k in e} for rid, e in mine.items()}
    _write_json(fs, f"{root}/{_META}/listing/{key}.json", {"runs": listing})


def _merged(shards: dict[str, dict]) -> dict[str, dict]:
    """The remote's view: per run, the newest entry of any shard (tombstones included)."""
    view: dict[str, dict] = {}
    for shard in shards.values():
        for rid, entry in (shard.get("runs") or {}).items():
            if not isinstance(entry, dict) or not is_run_id(rid):
                continue
            old = view.get(rid)
            if old is None or float(entry.get("pushed") or 0) > float(old.get("pushed") or 0):
                view[rid] = entry
    return view


def _live(view: dict[str, dict]) -> dict[str, dict]:
    return {rid: e for rid, e in view.items() if not e.get("deleted")}


# --- push -----------------------------------------------------------------------------------

_BATCH = 64  # runs sent per round of concurrent transfers (and shard writes)
_SMALL = 8 * 1024 * 1024  # packs up to this size are built in memory and sent together


def push(remote: Remote, records: list[dict], home_runs: Path, *, delete: bool = False,
         include_running: bool = False) -> Transfer:
    """Send the runs of ``records`` (local listing records) to ``remote``."""
    fs, root = filesystem(remote)
    t = Transfer()
    key = _home_key(home_runs)
    with remote_errors(remote):
        shards = _shards(fs, root)
        view = _merged(shards)
        mine = dict((shards.get(key) or {}).get("runs") or {})
        todo = []
        for r in records:
            if r.get("status") in ("running", "pending", "staged") and not include_running:
                t.skipped.append(r["id"])
                t.notes.append(f"{r['id'][:8]} is {r.get('status')}: skipped (use --include-running)")
                continue
            todo.append(r)
        plans = []
        total = 0
        for r in todo:
            rid = r["id"]
            run_dir = Path(r["dir"])
            files, links = _local_files(run_dir)
            old = view.get(rid) if not (view.get(rid) or {}).get("deleted") else None
            old_files = (old or {}).get("files") or {}
            changed = [rel for rel, meta in files.items() if list(old_files.get(rel, []))[:3] != meta]
            rec = {k: v for k, v in r.items() if k not in ("dir", "summary")}
            if old is not None and not changed and set(old_files) == set(files) and old.get("links", {}) == links \
                    and old.get("record") == json.loads(json.dumps(rec, default=str)):
                t.unchanged.append(rid)
                continue
            total += sum(files[rel][0] for rel in changed)
            plans.append((r, run_dir, files, links, changed, old_files, rec))
        add, run_done, close = _progress(len(plans), total, "pushing")
        try:
            for i in range(0, len(plans), _BATCH):
                _push_batch(fs, root, plans[i:i + _BATCH], mine, t, add, run_done)
                _write_shards(fs, root, key, mine)
        finally:
            close()
        if delete:
            local = {p.name for p in home_runs.iterdir()} if home_runs.exists() else set()
            now = time.time()
            for rid in sorted(rid for rid in _live(view) if rid not in local):
                mine[rid] = {"deleted": True, "pushed": now}
                t.deleted.append(rid)
            if t.deleted:
                _write_shards(fs, root, key, mine)  # unpublish first
                for rid in t.deleted:
                    if fs.exists(f"{root}/packs/{rid}"):
                        fs.rm(f"{root}/packs/{rid}", recursive=True)
    return t


def _pack(run_dir: Path, rels: list[str], dest: Any) -> None:
    import zipfile

    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for rel in rels:
            zf.write(run_dir / rel, rel)


def _push_batch(fs: Any, root: str, plans: list, mine: dict, t: Transfer, add: Callable[[int], None],
                run_done: Callable[[], None]) -> None:
    """Send a batch of runs' changed files (one pack each, small ones concurrently), then record them."""
    import io
    import tempfile
    import uuid

    small: dict[str, bytes] = {}
    if not _is_object_store(fs):
        for r, *_ in plans:
            fs.makedirs(f"{root}/packs/{r['id']}", exist_ok=True)
    names = {}
    for r, run_dir, files, _links, changed, _old, _rec in plans:
        if not changed:
            continue
        name = f"{int(time.time() * 1000):x}-{uuid.uuid4().hex[:8]}"
        names[r["id"]] = name
        path = f"{root}/packs/{r['id']}/{name}.zip"
        if sum(files[rel][0] for rel in changed) <= _SMALL:
            buf = io.BytesIO()
            _pack(run_dir, changed, buf)
            small[path] = buf.getvalue()
        else:
            with tempfile.NamedTemporaryFile(suffix=".zip") as tmp:
                _pack(run_dir, changed, tmp)
                tmp.flush()
                fs.put_file(tmp.name, path)
    if small:
        fs.pipe(small)
    now = time.time()
    for r, run_dir, files, links, changed, old_files, rec in plans:
        rid = r["id"]
        entry_files = {}
        for rel, meta in files.items():
            entry_files[rel] = [*meta, names[rid]] if rel in changed else list(old_files[rel])
        mine[rid] = {"record": json.loads(json.dumps(rec, default=str)), "files": entry_files, "links": links,
                     "pushed": now}
        n = sum(files[rel][0] for rel in changed)
        t.files += len(changed)
        t.bytes += n
        add(n)
        t.sent.append(rid)
        run_done()


# --- listing --------------------------------------------------------------------------------

def remote_records(remote: Remote) -> list[dict]:
    """The listing records of a remote's runs, from its index shards (nothing is pulled)."""
    fs, root = filesystem(remote)
    with remote_errors(remote):
        view = _live(_merged(_listing_shards(fs, root)))
    out = []
    for rid, entry in view.items():
        rec = entry.get("record")
        if not isinstance(rec, dict):
            continue
        out.append(dict(rec, id=rid, dir=f"{remote.url.rstrip('/')}/runs/{rid}"))
    out.sort(key=lambda r: (r.get("started") or 0, r["id"]), reverse=True)
    return out


# --- pull -----------------------------------------------------------------------------------

def pull(remote: Remote, ids: list[str], home_runs: Path, *, delete: bool = False,
         include_running: bool = False, statuses: dict[str, str] | None = None) -> Transfer:
    """Bring runs ``ids`` from ``remote`` into ``home_runs``."""
    fs, root = filesystem(remote)
    t = Transfer()
    statuses = statuses or {}
    home_runs.mkdir(parents=True, exist_ok=True)
    with remote_errors(remote):
        view = _live(_merged(_shards(fs, root)))
        plans = []
        total = 0
        for rid in ids:
            if not is_run_id(rid):
                t.skipped.append(rid)
                t.notes.append(f"refusing remote run {rid!r}: not a run id (32 hex digits)")
                continue
            if statuses.get(rid) in ("running", "pending", "staged") and not include_running:
                t.skipped.append(rid)
                t.notes.append(f"{rid[:8]} is {statuses[rid]} on the remote: skipped (use --include-running)")
                continue
            _recover(home_runs, rid)
            m = view.get(rid)
            if not isinstance(m, dict) or not isinstance(m.get("files"), dict):
                t.skipped.append(rid)
                t.notes.append(f"{rid[:8]} is not on the remote: skipped")
                continue
            bad = [rel for rel in list(m["files"]) + list(m.get("links") or {}) if not _safe_rel(rel)]
            bad += [str(meta) for meta in m["files"].values()
                    if not (isinstance(meta, list) and len(meta) == 4 and isinstance(meta[3], str)
                            and meta[3] and _PACK.issuperset(meta[3]))]
            if bad:
                t.skipped.append(rid)
                t.notes.append(f"refusing remote run {rid[:8]}: {bad[0]!r} would land outside its directory")
                continue
            local_dir = home_runs / rid
            local_files, local_links = _local_files(local_dir) if local_dir.is_dir() else ({}, {})
            want = {rel: meta for rel, meta in m["files"].items()
                    if local_files.get(rel, [None, None])[:2] != list(meta)[:2]}
            if not want and (m.get("links") or {}) == {k: v for k, v in local_links.items() if k in m.get("links", {})}:
                t.unchanged.append(rid)
                continue
            total += sum(int(meta[0]) for meta in want.values())
            plans.append((rid, m, local_dir, local_files, want))
        add, run_done, close = _progress(len(plans), total, "pulling")
        try:
            for i in range(0, len(plans), _BATCH):
                batch = plans[i:i + _BATCH]
                packs = _fetch_packs(fs, root, batch)
                for rid, m, local_dir, local_files, want in batch:
                    existed = local_dir.exists()
                    if _pull_one(rid, m, local_dir, local_files, want, packs, home_runs, t, add):
                        t.sent.append(rid)
                        if existed:  # a new run is found by the next listing; a changed one may not be
                            _touch_index(local_dir)
                    run_done()
        finally:
            close()
        if delete:
            from ..store import trash

            for p in sorted(home_runs.iterdir()):
                if is_run_id(p.name) and p.name not in view:
                    trash.delete(home_runs.parent, p.name)
                    t.deleted.append(p.name)
    return t


def _touch_index(run_dir: Path) -> None:
    """A pulled run is a change like any other runyard makes: the index learns it at once."""
    from .. import index
    from ..store.run import Run

    try:
        index.touch(Run(run_dir))
    except Exception:  # noqa: BLE001 - the index is a cache; listings reconcile
        pass


def _fetch_packs(fs: Any, root: str, batch: list) -> dict[tuple[str, str], bytes]:
    """The packs a batch of pulls needs, fetched concurrently: (run id, pack) -> zip bytes."""
    paths = {}
    for rid, _m, _ld, _lf, want in batch:
        for meta in want.values():
            paths[f"{root}/packs/{rid}/{meta[3]}.zip"] = (rid, meta[3])
    if not paths:
        return {}
    got = fs.cat(list(paths), on_error="omit")
    out = {}
    for path, data in got.items():
        k = paths.get(path) or paths.get("/" + path.lstrip("/")) or paths.get(path.lstrip("/"))
        if k is not None and not isinstance(data, Exception):
            out[k] = data
    return out


def _recover(home_runs: Path, rid: str) -> None:
    """Undo what a pull killed mid-swap left: the old run back in place, the half-built one gone."""
    old = home_runs / f".pull-old-{rid}"
    if old.is_dir():
        if (home_runs / rid).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, home_runs / rid)
    shutil.rmtree(home_runs / f".pull-{rid}", ignore_errors=True)


def _pull_one(rid: str, m: dict, local_dir: Path, local_files: dict, want: dict, packs: dict,
              home_runs: Path, t: Transfer, add: Callable[[int], None]) -> bool:
    import io
    import zipfile

    stage = home_runs / f".pull-{rid}"
    stage.mkdir()
    try:
        for rel in m["files"]:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            if rel not in want:
                try:
                    os.link(local_dir / rel, stage / rel)
                except OSError:
                    shutil.copy2(local_dir / rel, stage / rel)
        opened: dict[str, zipfile.ZipFile] = {}
        for rel, meta in want.items():
            size, mtime_ns, mode, pack = meta
            data = packs.get((rid, pack))
            if data is None:
                t.notes.append(f"{rid[:8]}: pack {pack} is missing on the remote: try again")
                shutil.rmtree(stage, ignore_errors=True)
                t.skipped.append(rid)
                return False
            zf = opened.get(pack) or opened.setdefault(pack, zipfile.ZipFile(io.BytesIO(data)))
            try:
                info = zf.getinfo(rel)
            except KeyError:
                info = None
            if info is None or info.file_size != int(size):
                t.notes.append(f"{rid[:8]} changed on the remote while it was pulled: try again")
                shutil.rmtree(stage, ignore_errors=True)
                t.skipped.append(rid)
                return False
            dst = stage / rel
            with zf.open(info) as src, open(dst, "wb") as out:
                shutil.copyfileobj(src, out)
            os.chmod(dst, _plain_mode(int(mode)))
            os.utime(dst, ns=(int(mtime_ns), int(mtime_ns)))
            t.files += 1
            t.bytes += int(size)
            add(int(size))
        for rel, target in (m.get("links") or {}).items():
            full = os.path.normpath(os.path.join(str(stage), os.path.dirname(rel), target))
            inside_runs = (full + os.sep).startswith(str(home_runs) + os.sep)
            if os.path.isabs(target) or not inside_runs:
                t.notes.append(f"{rid[:8]}: link {rel} points outside the runs folder: not made")
                continue
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, stage / rel)
        # Local files the remote doesn't have (say, a tag added here) are kept.
        for rel in local_files:
            if rel not in m["files"] and not (stage / rel).exists():
                (stage / rel).parent.mkdir(parents=True, exist_ok=True)
                os.link(local_dir / rel, stage / rel)
        if local_dir.exists():
            old = home_runs / f".pull-old-{rid}"
            os.rename(local_dir, old)
            os.rename(stage, local_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, local_dir)
        return True
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


# --- sync while running ---------------------------------------------------------------------

class LiveSync:
    """Push runs to a remote every ``interval`` seconds while they run, and once more at the end.

    ``records`` returns the current listing records of the runs to push (one run, or a batch's
    runs). A failing push is reported once per distinct message on stderr; the run goes on.
    """

    def __init__(self, remote: Remote, records: Callable[[], list[dict]], home_runs: Path,
                 interval: float = 30.0):
        import threading

        self.remote, self.records, self.home_runs, self.interval = remote, records, home_runs, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runyard-sync", daemon=True)
        self._said: set[str] = set()

    def __enter__(self) -> "LiveSync":
        filesystem(self.remote)  # an unusable remote fails now, before the run starts
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.push_now()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.push_now()

    def push_now(self) -> None:
        import sys

        try:
            push(self.remote, self.records(), self.home_runs, include_running=True)
        except RunyardError as e:
            if str(e) not in self._said:
                self._said.add(str(e))
                print(f"runyard: sync: {e}", file=sys.stderr)
