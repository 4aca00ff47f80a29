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
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import RunyardError, UsageError
from ..store.archive import public_bytes, remove_stale
from ..store.paths import link_refused, stays_on_machine
from . import checks
from .checks import is_run_id
from .config import Remote

_META = ".runyard"


class RemoteError(RunyardError):
    """A remote that can't be reached or used (one line, nothing changed locally)."""


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
            # One part of a big file at a time: s3fs's default (10 parts of 50 MiB held in memory)
            # would take a pull or push of a large run to 500 MB; runs go concurrently anyway.
            opts.setdefault("max_concurrency", 1)
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

def _local_files(run_dir: Path, public: bool = False, known: dict | None = None
                 ) -> tuple[dict[str, list[int]], dict[str, str]]:
    """{relpath: [size, mtime_ns, mode]} and {relpath: link target} of a run directory.

    ``public``: what push sends — every file as :func:`store.archive.public_bytes` has it (an
    ``env`` attribute without its secrets: its size is that of what is sent; taken from
    ``known``, the remote's entry, while the file's mtime and mode are the same), and only the
    links that keep the rule for links in runs (``store.paths.link_refused``)."""
    known = known or {}
    files: dict[str, list[int]] = {}
    links: dict[str, str] = {}
    base = str(run_dir)
    for root, dirs, names in os.walk(base):
        rel_root = os.path.relpath(root, base)
        prefix = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        for d in list(dirs):
            p = os.path.join(root, d)
            if os.path.islink(p):
                if not public or link_refused(run_dir, prefix + d) is None:
                    links[prefix + d] = os.readlink(p)
                dirs.remove(d)
        for n in names:
            if stays_on_machine(prefix + n):
                continue
            p = os.path.join(root, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                if not public or link_refused(run_dir, prefix + n) is None:
                    links[prefix + n] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                files[prefix + n] = [st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode)]
                old = known.get(prefix + n)
                if public and old is not None and list(old[1:3]) == files[prefix + n][1:]:
                    files[prefix + n][0] = old[0]
                elif public:
                    sent = public_bytes(prefix + n, Path(p))
                    if sent is not None:
                        files[prefix + n][0] = len(sent)
    return files, links


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

_warned: set[str] = set()


def warn(message: str) -> None:
    """A note about what a remote holds (a shard or entry left out): on stderr, once a process,
    terminal-safe (it quotes what another person wrote)."""
    import sys

    from ..terminal import safe

    if message not in _warned:
        _warned.add(message)
        print(f"runyard: warning: {safe(message)}", file=sys.stderr)


class _Seen:
    """What reading a remote's shards left out: --delete refuses unless the remote was read whole."""

    def __init__(self) -> None:
        self.skipped = 0

    def __call__(self, message: str) -> None:
        self.skipped += 1
        warn(message)


def _home_key(home_runs: Path) -> str:
    """This home's shard name: stable for a home, distinct between homes and machines."""
    import hashlib
    import socket

    digest = hashlib.sha256(f"{socket.gethostname()}:{home_runs.resolve()}".encode()).hexdigest()[:16]
    return f"{digest}"


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _read_shards(fs: Any, found: dict[str, dict], seen: Callable[[str], None]) -> dict[str, dict]:
    """Shards (``{path: fsspec info}``) by home name, each as ``{"runs": {id: checked entry}}``.

    Only regular files no bigger than MAX_SHARD are read (a FIFO would block the reader); on a
    folder remote they are opened without following links or blocking. Whatever is left out is
    named through ``seen``."""
    from ..store.attrs import read_bytes

    paths = []
    for path, info in found.items():
        name = path.rsplit("/", 1)[-1]
        if info.get("type") != "file" or info.get("islink") or (info.get("size") or 0) > checks.MAX_SHARD:
            seen(f"skipping remote shard {name}: not a regular file of at most 256 MiB")
        else:
            paths.append(path)
    if _is_local(fs):
        got: dict[str, Any] = {}
        for path in paths:
            try:
                got[path] = read_bytes(path, checks.MAX_SHARD)
            except OSError as e:
                got[path] = e
    else:
        got = fs.cat(paths, on_error="return") if paths else {}
    out = {}
    for path, data in got.items():
        name = path.rsplit("/", 1)[-1]
        if isinstance(data, FileNotFoundError):
            continue  # replaced meanwhile
        if isinstance(data, Exception) or len(data) > checks.MAX_SHARD:
            seen(f"skipping remote shard {name}: it can't be read")
            continue
        out[name[:-5]] = {"runs": checks.shard_entries(name, data, seen)}
    return out


def _find_json(fs: Any, folder: str) -> dict[str, dict]:
    """``{path: info}`` of the ``*.json`` files under ``folder`` (recursively)."""
    try:
        found = fs.find(folder, detail=True)
    except FileNotFoundError:
        return {}
    return {p: i for p, i in found.items() if p.endswith(".json")}


def _shards(fs: Any, root: str, seen: Callable[[str], None]) -> dict[str, dict]:
    """Every home's index shard, by name (one listing and one batched read)."""
    found = _find_json(fs, f"{root}/{_META}/index")
    return _read_shards(fs, {p: i for p, i in found.items() if p.rsplit("/", 2)[-2] == "index"}, seen)


def _listing_shards(fs: Any, root: str, seen: Callable[[str], None]) -> dict[str, dict]:
    """Every home's listing shard (records only: a fifth of the index), by name.

    One recursive listing and one batched read. A home with an index shard but no listing shard
    (pushed by an earlier runyard) is read from its index shard.
    """
    kinds: dict[str, dict[str, tuple[str, dict]]] = {"index": {}, "listing": {}}
    for path, info in _find_json(fs, f"{root}/{_META}").items():
        parts = path.rsplit("/", 2)
        if len(parts) == 3 and parts[1] in kinds:
            kinds[parts[1]][parts[2]] = (path, info)
    listing = kinds["listing"]
    want = dict(listing.values())
    want.update(v for n, v in kinds["index"].items() if n not in listing)
    return _read_shards(fs, want, seen)


def _write_shards(fs: Any, root: str, key: str, mine: dict) -> None:
    """This home's index shard, then its listing shard (so nothing lists before it can be pulled)."""
    _write_json(fs, f"{root}/{_META}/index/{key}.json", {"runs": mine})
    listing = {rid: {k: e[k] for k in ("record", "pushed", "deleted") if k in e} for rid, e in mine.items()}
    _write_json(fs, f"{root}/{_META}/listing/{key}.json", {"runs": listing})


def _merged(shards: dict[str, dict]) -> dict[str, dict]:
    """The remote's view: per run, the newest entry of any shard (tombstones included); the
    entries are checked (``checks.entry_problem``), so no push time lies in the future."""
    view: dict[str, dict] = {}
    for shard in shards.values():
        for rid, entry in shard["runs"].items():
            old = view.get(rid)
            if old is None or entry["pushed"] > old["pushed"]:
                view[rid] = entry
    return view


def _live(view: dict[str, dict]) -> dict[str, dict]:
    return {rid: e for rid, e in view.items() if not e.get("deleted")}


def _delete_check(what: str, n_source: int, seen: _Seen, gone: list[str], confirm: Callable[[int], bool] | None
                  ) -> bool:
    """Whether ``--delete`` may remove ``gone``: never when the side it mirrors holds no runs or
    wasn't read whole; ``confirm(len(gone))`` decides (None: yes)."""
    if not gone:
        return False
    if n_source == 0:
        raise UsageError(f"refusing --delete: {what} holds no runs (a wrong URL or prefix?); nothing was deleted")
    if seen.skipped:
        raise UsageError(f"refusing --delete: {what} could not be read whole ({seen.skipped} part(s) left out, "
                         "see the warnings); nothing was deleted")
    return confirm is None or confirm(len(gone))


_ACTIVE = ("running", "pending", "staged")


# --- push -----------------------------------------------------------------------------------

_BATCH = 64  # runs sent per round of concurrent transfers (and shard writes)
_SMALL = 8 * 1024 * 1024  # packs up to this size are built in memory and sent together


def push(remote: Remote, records: list[dict], home_runs: Path, *, delete: bool = False,
         include_running: bool = False, confirm: Callable[[int], bool] | None = None) -> Transfer:
    """Send the runs of ``records`` (local listing records) to ``remote``.

    ``delete``: also remove the remote's runs this home doesn't have — refused if this home holds
    no runs or the remote's index wasn't read whole; ``confirm(n)`` is asked first (None: yes);
    a run the remote lists as running is never removed."""
    fs, root = filesystem(remote)
    t = Transfer()
    key = _home_key(home_runs)
    seen = _Seen()
    with remote_errors(remote):
        shards = _shards(fs, root, seen)
        view = _merged(shards)
        mine = dict((shards.get(key) or {}).get("runs") or {})
        gone: list[str] = []
        if delete:
            local = {p.name for p in home_runs.iterdir() if is_run_id(p.name)} if home_runs.exists() else set()
            for rid, e in sorted(_live(view).items()):
                if rid in local:
                    continue
                if (e.get("record") or {}).get("status") in _ACTIVE:
                    t.notes.append(f"{rid[:8]} is {e['record']['status']} on the remote: not deleted")
                    continue
                gone.append(rid)
            if not _delete_check("this home", len(local), seen, gone, confirm):
                gone = []
        todo = []
        for r in records:
            if r.get("status") in _ACTIVE and not include_running:
                t.skipped.append(r["id"])
                t.notes.append(f"{r['id'][:8]} is {r.get('status')}: skipped (use --include-running)")
                continue
            todo.append(r)
        plans = []
        total = 0
        for r in todo:
            rid = r["id"]
            run_dir = Path(r["dir"])
            old = view.get(rid) if not (view.get(rid) or {}).get("deleted") else None
            old_files = (old or {}).get("files") or {}
            files, links = _local_files(run_dir, public=True, known=old_files)
            changed = [rel for rel, meta in files.items() if list(old_files.get(rel, []))[:3] != meta]
            rec = {k: v for k, v in r.items() if k not in ("dir", "summary")}
            if old is not None and not changed and set(old_files) == set(files) and old.get("links", {}) == links \
                    and old.get("record") == json.loads(json.dumps(rec, default=str)):
                t.unchanged.append(rid)
                continue
            total += sum(files[rel][0] for rel in changed)
            # Stamped after any entry the remote has (checked: none is in the future), so this
            # push is the run's newest entry whatever another shard says.
            after = (view.get(rid) or {}).get("pushed", 0.0)
            plans.append((r, run_dir, files, links, changed, old_files, rec, after))
        add, run_done, close = _progress(len(plans), total, "pushing")
        try:
            for i in range(0, len(plans), _BATCH):
                _push_batch(fs, root, plans[i:i + _BATCH], mine, t, add, run_done)
                _write_shards(fs, root, key, mine)
        finally:
            close()
        if gone:
            now = time.time()
            for rid in gone:
                mine[rid] = {"deleted": True, "pushed": max(now, view[rid]["pushed"] + 0.001)}
                t.deleted.append(rid)
            _write_shards(fs, root, key, mine)  # unpublish first
            for rid in gone:
                if fs.exists(f"{root}/packs/{rid}"):
                    fs.rm(f"{root}/packs/{rid}", recursive=True)
    return t


def _pack(run_dir: Path, rels: list[str], dest: Any) -> None:
    """Zip ``rels`` of ``run_dir`` into ``dest``, each file as ``store.archive.public_bytes`` has it."""
    import zipfile

    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for rel in rels:
            sent = public_bytes(rel, run_dir / rel)
            if sent is None:
                zf.write(run_dir / rel, rel)
            else:
                zf.writestr(zipfile.ZipInfo.from_file(run_dir / rel, rel), sent)


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
    for r, run_dir, files, _links, changed, _old, _rec, _after in plans:
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
    for r, run_dir, files, links, changed, old_files, rec, after in plans:
        rid = r["id"]
        entry_files = {}
        for rel, meta in files.items():
            entry_files[rel] = [*meta, names[rid]] if rel in changed else list(old_files[rel])
        mine[rid] = {"record": json.loads(json.dumps(rec, default=str)), "files": entry_files, "links": links,
                     "pushed": max(now, after + 0.001)}
        n = sum(files[rel][0] for rel in changed)
        t.files += len(changed)
        t.bytes += n
        add(n)
        t.sent.append(rid)
        run_done()


# --- listing --------------------------------------------------------------------------------

def remote_records(remote: Remote) -> list[dict]:
    """The listing records of a remote's runs, from its index shards (nothing is pulled).

    Every entry is checked field by field (``checks``); one that isn't usable is left out with
    one warning naming it, and the others are listed."""
    fs, root = filesystem(remote)
    with remote_errors(remote):
        view = _live(_merged(_listing_shards(fs, root, warn)))
    out = []
    for rid, entry in view.items():
        rec = entry.get("record")
        if not isinstance(rec, dict):
            continue
        out.append(dict(checks.known_fields(rec), id=rid, dir=f"{remote.url.rstrip('/')}/runs/{rid}"))
    out.sort(key=lambda r: (r.get("started") or 0, r["id"]), reverse=True)
    return out


# --- pull -----------------------------------------------------------------------------------

def pull(remote: Remote, ids: list[str], home_runs: Path, *, delete: bool = False,
         include_running: bool = False, statuses: dict[str, str] | None = None,
         confirm: Callable[[int], bool] | None = None) -> Transfer:
    """Bring runs ``ids`` from ``remote`` into ``home_runs``.

    What the remote sends is held to import's rules: checked entries, links judged on the
    filesystem (``store.paths.link_refused``), packs streamed to disk (never whole in memory),
    sizes against free space, no zip bombs, plain modes. ``delete``: move local runs the remote
    doesn't have to the trash — refused if the remote holds no runs or wasn't read whole;
    ``confirm(n)`` is asked first (None: yes); a running local run is never moved."""
    fs, root = filesystem(remote)
    t = Transfer()
    statuses = statuses or {}
    home_runs.mkdir(parents=True, exist_ok=True)
    seen = _Seen()
    with remote_errors(remote):
        view = _live(_merged(_shards(fs, root, seen)))
        gone: list[str] = []
        if delete:
            from ..store.run import status_of

            for p in sorted(home_runs.iterdir()):
                if not is_run_id(p.name) or p.name in view:
                    continue
                status = status_of(p)
                if status in _ACTIVE:
                    t.notes.append(f"{p.name[:8]} is {status} here: not moved to the trash")
                    continue
                gone.append(p.name)
            if not _delete_check(f"remote {remote.name}", len(view), seen, gone, confirm):
                gone = []
        plans = []
        total = 0
        free = shutil.disk_usage(home_runs).free
        for rid in ids:
            if not is_run_id(rid):
                t.skipped.append(rid)
                t.notes.append(f"refusing remote run {rid[:40]!r}: not a run id (32 hex digits)")
                continue
            if statuses.get(rid) in _ACTIVE and not include_running:
                t.skipped.append(rid)
                t.notes.append(f"{rid[:8]} is {statuses[rid]} on the remote: skipped (use --include-running)")
                continue
            _recover(home_runs, rid)
            m = view.get(rid)
            if m is None or "files" not in m:
                t.skipped.append(rid)
                t.notes.append(f"{rid[:8]} is not on the remote: skipped")
                continue
            local_dir = home_runs / rid
            local_files, local_links = _local_files(local_dir) if local_dir.is_dir() else ({}, {})
            want = {rel: meta for rel, meta in m["files"].items()
                    if local_files.get(rel, [None, None])[:2] != list(meta)[:2]}
            links = m.get("links") or {}
            if not want and links == {k: v for k, v in local_links.items() if k in links}:
                t.unchanged.append(rid)
                continue
            size = sum(meta[0] for meta in want.values())
            if size > free:  # one run that can't fit doesn't stop the others
                t.skipped.append(rid)
                t.notes.append(f"refusing remote run {rid[:8]}: it needs {size:,} bytes but only {free:,} are free")
                continue
            total += size
            plans.append((rid, m, local_dir, local_files, want))
        add, run_done, close = _progress(len(plans), total, "pulling")
        remove_stale(home_runs, ".pull-packs-")  # left by a pull that was killed
        tmp = home_runs / f".pull-packs-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            for i in range(0, len(plans), _BATCH):
                batch = plans[i:i + _BATCH]
                tmp.mkdir()
                try:
                    packs = _fetch_packs(fs, root, batch, tmp, home_runs)
                    for rid, m, local_dir, local_files, want in batch:
                        existed = local_dir.exists()
                        if _pull_one(rid, m, local_dir, local_files, want, packs, home_runs, t, add):
                            t.sent.append(rid)
                            if existed:  # a new run is found by the next listing; a changed one may not be
                                _touch_index(local_dir)
                        run_done()
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
        finally:
            close()
        if gone:
            from ..store import trash

            for rid in gone:
                trash.delete(home_runs.parent, rid)
                t.deleted.append(rid)
    return t


def _touch_index(run_dir: Path) -> None:
    """A pulled run is a change like any other runyard makes: the index learns it at once."""
    from .. import index
    from ..store.run import Run

    try:
        index.touch(Run(run_dir))
    except Exception:  # noqa: BLE001 - the index is a cache; listings reconcile
        pass


def _fetch_packs(fs: Any, root: str, batch: list, tmp: Path, home_runs: Path) -> dict[tuple[str, str], Path]:
    """The packs a batch of pulls needs, streamed to files in ``tmp`` (concurrently where the
    backend can): (run id, pack) -> local path. Only regular files are read; their sizes and the
    files they hold must fit in the free space first."""
    from ..store.archive import check_space
    from ..store.attrs import _OPEN_FLAGS

    wanted: dict[str, tuple[str, str]] = {}
    need = 0
    for rid, _m, _ld, _lf, want in batch:
        for meta in want.values():
            wanted[f"{root}/packs/{rid}/{meta[3]}.zip"] = (rid, meta[3])
            need += meta[0]
    if not wanted:
        return {}
    found: dict[str, dict] = {}  # what the packs are (a FIFO is no pack) and their sizes
    rids = {rid for rid, _ in wanted.values()}
    infos: list[dict] = []
    for folder in ([f"{root}/packs"] if len(rids) > 8 else [f"{root}/packs/{rid}" for rid in rids]):
        try:  # one listing of every pack beats one per run when there are many
            infos += fs.find(folder, detail=True).values()
        except FileNotFoundError:
            pass
    for info in infos:
        found["/" + info["name"].lstrip("/")] = info
    paths = {}
    for path, key in wanted.items():
        info = found.get("/" + path.lstrip("/"))
        if info is not None and info.get("type") == "file" and not info.get("islink"):
            paths[path] = tmp / f"{key[0]}-{key[1]}.zip"
            need += int(info.get("size") or 0)
    check_space(need, home_runs, "pull")
    if _is_local(fs):  # opened without blocking or following a link: a FIFO is no pack
        for path, dst in paths.items():
            try:
                fd = os.open(path, _OPEN_FLAGS | os.O_NOFOLLOW)
            except OSError:
                continue
            with os.fdopen(fd, "rb") as src:
                if stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                    with open(dst, "xb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
    elif paths:
        try:
            fs.get(list(paths), [str(p) for p in paths.values()])
        except FileNotFoundError:
            pass  # a pack gone meanwhile: its run is skipped ("try again")
    return {wanted[path]: dst for path, dst in paths.items() if dst.exists()}


def _recover(home_runs: Path, rid: str) -> None:
    """Undo what a pull killed mid-swap left: the old run back in place, the half-built one gone."""
    old = home_runs / f".pull-old-{rid}"
    if old.is_dir():
        if (home_runs / rid).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, home_runs / rid)
    shutil.rmtree(home_runs / f".pull-{rid}", ignore_errors=True)


class _Refused(Exception):
    """A pulled run that breaks a rule: the note says which; nothing of it is kept."""


class _Retry(_Refused):
    """A pulled run whose packs changed meanwhile: pulling again will do."""


def _stage_path(stage: Path, rel: str) -> Path:
    """``stage/rel`` with its folders made: real folders only, never through a link."""
    cur = stage
    for part in rel.split("/")[:-1]:
        cur = cur / part
        try:
            os.mkdir(cur)
        except FileExistsError:
            if os.path.islink(cur) or not os.path.isdir(cur):
                raise _Refused(f"{rel!r} lies behind a link or a file") from None
    return cur / rel.rsplit("/", 1)[-1]


def _pull_one(rid: str, m: dict, local_dir: Path, local_files: dict, want: dict, packs: dict,
              home_runs: Path, t: Transfer, add: Callable[[int], None]) -> bool:
    """Build run ``rid`` in ``.pull-<id>`` (files, then links, then the local files the remote
    doesn't have) and swap it in whole; a run that breaks a rule is refused with a note."""
    import zipfile

    from ..store.archive import ArchiveError, check_ratio, extract_member

    stage = home_runs / f".pull-{rid}"
    stage.mkdir()
    opened: dict[str, zipfile.ZipFile] = {}
    try:
        for rel in m["files"]:
            if rel not in want:  # unchanged here: the local file, never followed if it is a link
                dst = _stage_path(stage, rel)
                try:
                    os.link(local_dir / rel, dst, follow_symlinks=False)
                except OSError:
                    shutil.copy2(local_dir / rel, dst, follow_symlinks=False)
        for rel, (size, mtime_ns, mode, pack) in want.items():
            path = packs.get((rid, pack))
            if path is None:
                raise _Retry(f"pack {pack} is missing on the remote: try again")
            zf = opened.get(pack) or opened.setdefault(pack, zipfile.ZipFile(path))
            try:
                info = zf.getinfo(rel)
            except KeyError:
                info = None
            if info is None or info.file_size != size or info.is_dir():
                raise _Retry("it changed on the remote while it was pulled: try again")
            check_ratio(f"pack entry {rel!r}", info.file_size, info.compress_size, hint="")
            dst = _stage_path(stage, rel)
            extract_member(zf, info, dst)
            os.chmod(dst, _plain_mode(mode))
            os.utime(dst, ns=(mtime_ns, mtime_ns))
            t.files += 1
            t.bytes += size
            add(size)
        made = []
        for rel, target in (m.get("links") or {}).items():
            os.symlink(target, _stage_path(stage, rel))
            made.append(rel)
        refused = {rel: link_refused(stage, rel, run_id=rid) for rel in made}  # all in place: no chain gets by
        for rel, why in refused.items():
            if why:
                os.unlink(stage / rel)
                t.notes.append(f"{rid[:8]}: link {rel!r} {why}: not made")
        # Local files the remote doesn't have (say, a tag added here) are kept, unless the
        # remote put a link or a file where they were.
        for rel in local_files:
            if rel not in m["files"] and not os.path.lexists(stage / rel):
                try:
                    dst = _stage_path(stage, rel)
                except _Refused:
                    t.notes.append(f"{rid[:8]}: local file {rel!r} is now behind a link on the remote: not kept")
                    continue
                os.link(local_dir / rel, dst, follow_symlinks=False)
        _swap_in(stage, local_dir, home_runs, rid)
        return True
    except (_Refused, ArchiveError, zipfile.BadZipFile, ValueError,  # a bad pack or entry; two entries
            FileExistsError, NotADirectoryError, IsADirectoryError) as e:  # at one path
        shutil.rmtree(stage, ignore_errors=True)
        msg = str(e).removeprefix("refusing to import: ")
        t.notes.append(f"{rid[:8]}: {msg}" if isinstance(e, _Retry) else f"refusing remote run {rid[:8]}: {msg}")
        t.skipped.append(rid)
        return False
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        for zf in opened.values():
            zf.close()


def _swap_in(stage: Path, local_dir: Path, home_runs: Path, rid: str) -> None:
    """Put the built run in place of the old one (renames only: a crash leaves one of them)."""
    if local_dir.exists():
        old = home_runs / f".pull-old-{rid}"
        os.rename(local_dir, old)
        os.rename(stage, local_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, local_dir)


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
                from ..terminal import safe

                print(f"runyard: sync: {safe(e)}", file=sys.stderr)
