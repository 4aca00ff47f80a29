"""Errors users see: one clear line each, never a traceback."""

from __future__ import annotations


class RunyardError(Exception):
    """An error with a one-line message meant for the user.

    ``exit_code`` is what the CLI exits with (2 for bad input, 1 otherwise).
    """

    exit_code = 1
    cli_message: str | None = None  # the message as the CLI says it, when it differs (option names)

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(RunyardError):
    """Bad input from the user: an unknown flag, a value out of range, a bad selector."""

    exit_code = 2


class FlagError(UsageError):
    """A flag value that the script does not accept."""


class UnknownFlagError(FlagError):
    """A flag the script does not define. The message names ``force_flags=True`` from Python
    and ``--force-flags`` from the CLI."""

    def __init__(self, message: str):
        super().__init__(f"{message}; force_flags=True accepts flags the script doesn't declare")
        self.cli_message = f"{message}; --force-flags accepts flags the script doesn't declare"


class RunFailed(RunyardError):
    """``run(..., check=True)``: a run ended in error or was terminated. ``run_id``, ``status``,
    ``exit_status`` and ``output`` (its last output lines) say which and how."""

    def __init__(self, run_id: str, status: str, exit_status: int | None, output: list[str],
                 operation: str = ""):
        self.run_id, self.status, self.exit_status, self.output = run_id, status, exit_status, output
        how = "was terminated" if status == "terminated" else "ended in error"
        code = f" (exit status {exit_status})" if exit_status is not None else ""
        text = f"run {run_id[:8]}{f' ({operation})' if operation else ''} {how}{code}"
        if output:
            text += "; its last output:\n" + "\n".join(f"  {line}" for line in output)
        super().__init__(text)


class SelectError(UsageError):
    """A run selector or filter that cannot be resolved."""


class TextError(UsageError):
    """Text that is not valid UTF-8 (a lone surrogate, or a byte that was not UTF-8)."""


def check_text(value: object, what: str) -> None:
    """Raise :class:`TextError` if ``value`` (a string, or lists/dicts of them) holds text that
    is not valid UTF-8. Such text is refused at every input, so that no home ever holds it."""
    bad = _bad_text(value)
    if bad is not None:
        try:  # a byte that was not UTF-8 (as Python decodes argv and files): \xff
            shown = bad.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # any other lone surrogate: \udc80
            shown = bad.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(shown) > 60:
            shown = shown[:57] + "..."
        raise TextError(f"{what} is not valid UTF-8 text: '{shown}'")


def _bad_text(value: object) -> str | None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = _bad_text(k)
            if bad is None:
                bad = _bad_text(v)
            if bad is not None:
                return bad
    elif isinstance(value, (list, tuple)):
        for v in value:
            bad = _bad_text(v)
            if bad is not None:
                return bad
    return None
