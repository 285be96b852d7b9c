"""JSON that is safe to place inside an HTML <script> element or a .js file.

``json.dumps`` output is valid JavaScript, but a string holding ``</script>`` would end the
element, and U+2028/U+2029 end a line in older JS engines. We escape ``<``, ``>``, ``&``, U+2028
and U+2029 as \\uXXXX escapes, which every JSON/JS parser turns back into the same characters.
"""

from __future__ import annotations

import json
import math
from typing import Any

_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def clean(o: Any) -> Any:
    """NaN/inf are not JSON; they become null."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    return o


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)


def dumps(obj: Any) -> str:
    """JSON text safe inside <script> and .js files (and still plain, valid JSON)."""
    try:
        text = _ENCODER.encode(obj)
    except ValueError:
        text = _ENCODER.encode(clean(obj))
    return text.translate(_ESCAPES)


def js_assign(global_name: str, key: str, obj: Any) -> str:
    """A .js file body that stores ``obj`` at window[global_name][key] (no fetch: works on file://)."""
    g = dumps(global_name)
    return f"(function(w){{var g={g};w[g]=w[g]||{{}};w[g][{dumps(key)}]={dumps(obj)};}})(window);\n"
