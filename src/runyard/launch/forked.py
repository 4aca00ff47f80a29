"""Start a Python script in a fork of this process instead of a new interpreter.

A new ``python`` costs some 30 ms before the script's first line; a fork of the
already-started runyard process costs about one. The child does what
``python script.py`` would: its own cwd, environment, ``sys.argv`` and
``sys.path[0]``, fresh block-buffered stdout (line-buffered stderr) on the run's
pipes, ``__main__`` semantics, the interpreter's exit rules (``SystemExit``
codes, tracebacks, atexit handlers, non-daemon threads joined), and a fresh
random state. Used only where it is safe: Linux, a single-threaded parent that
is runyard's own command (:func:`allow` — never a notebook or a user's program,
whose imported modules, threads or GPU state a fork would inherit), and
``RUNYARD_FORK`` not set to ``0``; otherwise runyard starts a new interpreter.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from .. import environ as _environ


_allowed = False


def allow() -> None:
    """Called by runyard's own command line: this process holds nothing a fork could spoil."""
    global _allowed
    _allowed = True


# Libraries whose native state (thread pools, GPU contexts) a fork would carry into the run.
_NATIVE = ("numpy", "torch", "tensorflow", "jax", "pandas", "scipy")


def usable(argv: list[str], cwd: str | None = None, env: dict[str, str] | None = None) -> bool:
    """True when ``argv`` is ``[this python, script.py, ...]`` and forking is safe here: also,
    given the run's ``cwd`` and ``env``, when no module of the script's own path (its folder,
    its ``PYTHONPATH``) has the name of one this process has loaded (``yaml.py``, ``click/``),
    which the fork would hand the script instead."""
    if not (_allowed and sys.platform.startswith("linux") and os.environ.get("RUNYARD_FORK", "1") != "0"
            and len(argv) >= 2 and argv[0] == sys.executable and argv[1].endswith(".py")
            and threading.active_count() == 1 and not any(m in sys.modules for m in _NATIVE)):
        return False
    if cwd is None:
        return True
    from ..ownpath import shadowed

    return not shadowed(_front_path(argv[1], cwd, env if env is not None else dict(os.environ)))


def _front_path(script: str, cwd: str, env: dict[str, str]) -> list[str]:
    """What ``python script`` puts before the interpreter's own path: the script's folder,
    then ``PYTHONPATH`` (relative entries taken from ``cwd``)."""
    first = os.path.join(cwd, os.path.dirname(script)) if os.path.dirname(script) else cwd
    extra = [os.path.join(cwd, p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return [os.path.abspath(p) for p in [first, *extra]]


def _prctl():
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(parent: int, prctl=None) -> None:
    """In a just-forked child of ``parent``: SIGTERM this process when ``parent`` dies, even
    SIGKILLed (Linux's ``PR_SET_PDEATHSIG``; it survives ``exec``), so a killed supervisor never
    leaves its run's process behind, unreachable by ``runyard stop``."""
    if not sys.platform.startswith("linux"):
        return
    try:
        (prctl or _prctl())(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def preexec_die_with_parent():
    """A ``preexec_fn`` for :class:`subprocess.Popen` doing :func:`die_with_parent` (None where
    a preexec function is unsafe: off Linux, or from a thread other than the main one)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = _prctl()  # looked up before the fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    return lambda: die_with_parent(parent, prctl)


class ForkedProcess:
    """The parts of :class:`subprocess.Popen` the supervisor uses."""

    def __init__(self, pid: int, stdout_fd: int, stderr_fd: int):
        self.pid = pid
        self.stdout = os.fdopen(stdout_fd, "rb", buffering=0)
        self.stderr = os.fdopen(stderr_fd, "rb", buffering=0)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        for f in (self.stdout, self.stderr):
            try:
                f.close()
            except OSError:
                pass
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)


def start(argv: list[str], cwd: str, env: dict[str, str], hooks_dir: str | None = None) -> ForkedProcess:
    """Fork; the child runs ``argv[1]`` as ``__main__`` and never returns."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError, AttributeError):
            pass
    parent = os.getpid()
    # SIGTERM held back across the fork: the child must not run the supervisor's handler (which
    # would swallow a stop) before it has SIGTERM's default action of its own.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(out_w)
        os.close(err_w)
        return ForkedProcess(pid, out_r, err_r)
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a stop sent meanwhile ends the child now
        die_with_parent(parent)
        os.close(out_r)
        os.close(err_r)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        _close_inherited()  # as subprocess does: the run gets stdin/stdout/stderr only
        code = _child(argv, cwd, env, hooks_dir)
    except BaseException:  # noqa: BLE001 - nothing may escape into the parent's stack
        code = 1
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def _close_inherited() -> None:
    """Close every file descriptor but 0, 1 and 2 (the open ones, listed; else a range)."""
    try:
        fds = [int(f) for f in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(3, 4096)
        return
    for fd in fds:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass


def _child(argv: list[str], cwd: str, env: dict[str, str], hooks_dir: str | None) -> int:
    import io
    import random
    import runpy

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from ..ownpath import interpreter_path

    base = interpreter_path()  # (read in the parent's cwd and environment)
    os.chdir(cwd)
    _environ.install(env)  # (os.environ.clear() would die on a variable with an empty name)
    random.seed()
    enc = "utf-8"
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding=enc,
                                                   errors="strict")
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding=enc,
                                                   errors="backslashreplace", line_buffering=True)
    script = argv[1]
    sys.argv = [script, *argv[2:]]
    sys.path[:] = _front_path(script, cwd, env) + base  # what python script.py would have
    sys.path_importer_cache.clear()
    if hooks_dir and hooks_dir in sys.path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("_runyard_flusher", os.path.join(hooks_dir, "sitecustomize.py"))
        if spec and spec.loader:  # the live-output flusher a new interpreter would have started
            mod = importlib.util.module_from_spec(spec)
            mod._start_only = True  # type: ignore[attr-defined]
            spec.loader.exec_module(mod)
        try:
            import runyard_streams  # type: ignore[import-not-found]

            runyard_streams.install()
        except ImportError:
            pass
    path = os.path.abspath(script)
    code: Any = 0
    try:
        runpy.run_path(script, run_name="__main__")  # as given: __file__ and argv[0] match python's
    except SystemExit as e:
        code = e.code
    except KeyboardInterrupt:
        _print_exception(path)
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException:  # noqa: BLE001 - report it as python would
        _print_exception(path)
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    _finish()
    return code & 0xFF


def _print_exception(path: str) -> None:
    """The traceback python would print: frames from the script on, not runyard's or runpy's."""
    import traceback

    etype, value, tb = sys.exc_info()
    start = tb
    while start is not None and os.path.abspath(start.tb_frame.f_code.co_filename) != path:
        start = start.tb_next
    traceback.print_exception(etype, value, start or tb)


def _finish() -> None:
    """What interpreter shutdown does before exit: join threads, run atexit, flush."""
    try:
        threading._shutdown()  # type: ignore[attr-defined]
    except BaseException:  # noqa: BLE001
        pass
    try:
        import atexit

        atexit._run_exitfuncs()  # type: ignore[attr-defined]
    except BaseException:  # noqa: BLE001
        pass
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:  # noqa: BLE001
            pass
