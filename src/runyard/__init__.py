"""runyard: track, compare and manage machine-learning runs with no change to your code.

``import runyard`` is cheap: the API (and pandas) load on first use.
"""

from __future__ import annotations

from .version import __version__

from . import ownpath as _ownpath

_ownpath.isolate()  # runyard's own processes never import a project's yaml.py or click/

_API = (
    "run", "ls_runs", "ls_scalars", "resolve_run_ids",
    "runs_tag", "runs_mark", "runs_label", "runs_comment",
    "runs_delete", "runs_purge", "runs_restore", "runs_export", "runs_import",
    "runs_push", "runs_pull",
    "view", "view_run_report", "view_runs_diff",
    "stop_runs", "run_ids", "ls_records",
    "runs_summary", "runs_versus",
)

from . import errors  # noqa: E402 - tiny; runyard.errors.RunFailed etc. without another import
from .errors import RunFailed  # noqa: E402

__all__ = list(_API) + ["errors", "RunFailed", "__version__"]


def __getattr__(name: str):
    if name in _API:
        from . import api

        try:
            return getattr(api, name)
        except AttributeError:
            pass
        if name in ("view",):
            from .web import server

            return server.view
        if name in ("view_run_report", "view_runs_diff"):
            from . import report

            return getattr(report, name)
    raise AttributeError(f"module 'runyard' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
