"""The web view: runs, run, compare and diff pages over :mod:`runyard.api` (Starlette + uvicorn).

``runyard.view(runs=None, host="127.0.0.1", port=None, open=True, stop=False)`` starts it (see
:func:`runyard.view.server.view`). Because this package is also named ``view``, importing any of
its modules makes ``runyard.view`` this package; the package is therefore callable and a call
starts the view, so ``runyard.view(...)`` works either way.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> str:
        from .server import view

        return view(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
