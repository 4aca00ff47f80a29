"""JSON encoding for the view and the reports (orjson; NaN and infinities as ``null``)."""

from __future__ import annotations

import json
import math
from typing import Any

try:
    import orjson as _orjson

    _OPTS = _orjson.OPT_SERIALIZE_NUMPY | _orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        """JSON bytes (NaN and infinities become ``null``)."""
        try:
            return _orjson.dumps(obj, option=_OPTS)
        except TypeError:
            return _orjson.dumps(obj, option=_OPTS, default=str)
except ImportError:  # pragma: no cover - orjson is a dependency
    def dumps(obj: Any) -> bytes:
        return json.dumps(_clean(obj), default=str, allow_nan=False).encode()


def _clean(obj: Any) -> Any:  # pragma: no cover - only without orjson
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def json_for_html(obj: Any) -> str:
    """JSON safe to put inside ``<script type="application/json">`` (no ``</script>`` break-out);
    ``obj`` may be JSON already (bytes)."""
    text = (obj if isinstance(obj, bytes) else dumps(obj)).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
