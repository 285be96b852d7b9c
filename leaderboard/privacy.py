"""No builder path on a published page.

Results files, lineage files and lm-eval configs hold the builder's local paths (a cache folder,
a virtualenv's site-packages, a home folder). A reader can do nothing with them and they say
more about the builder than intended. Everything rendered goes through :func:`scrub`: a path
inside a results root is shown relative to it (``runs/org__m/results_….json``); any other
absolute path is replaced by the model's own name (:func:`public_name`). Full paths are kept only
in the optional provenance file (``--publish-provenance``).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

# an absolute path of at least two components, not part of a URL or of a longer word
_PATH = re.compile(r"(?<![\w:/.~])(~?/[\w.+@%=-]+(?:/[\w.+@%=-]*)+)")
_HF_CACHE = re.compile(r"models--([^/]+?)--([^/]+)")
_HASHLIKE = re.compile(r"^[0-9a-f]{16,}$")

_roots: list[tuple[str, str]] = []  # (real path of a results root, name shown for it)


def set_roots(roots: Iterable[str | os.PathLike]) -> None:
    """Paths under these folders are shown relative to them (prefixed by the folder's name)."""
    _roots.clear()
    for r in roots:
        p = Path(r)
        folder = p if p.is_dir() else p.parent
        for form in {os.path.realpath(folder), os.path.abspath(folder)}:
            _roots.append((form.rstrip("/"), Path(os.path.abspath(folder)).name or "results"))
    _roots.sort(key=lambda x: -len(x[0]))
    _public_path.cache_clear()


def looks_like_path(v: str) -> bool:
    return bool(v) and (v.startswith(("/", "~", "./", "../")) or bool(re.match(r"^[A-Za-z]:[\\/]", v)))


def public_name(path: str) -> str:
    """A model/dataset path as a reader can use it: ``org/name`` from a Hugging Face cache folder;
    the model's own ``_name_or_path`` from its config.json; else the last meaningful component."""
    m = _HF_CACHE.search(path)
    if m:
        return f"{m.group(1)}/{m.group(2)}"
    p = Path(path.rstrip("/\\"))
    try:
        cfg = p / "config.json"
        if p.is_dir() and cfg.is_file() and cfg.stat().st_size < 1 << 20:
            own = json.loads(cfg.read_text(encoding="utf-8", errors="replace")).get("_name_or_path")
            if isinstance(own, str) and own and len(own) < 200 and not looks_like_path(own):
                return own
            if isinstance(own, str) and looks_like_path(own) and own != path:
                return public_name(own)
    except (OSError, ValueError, AttributeError, RecursionError):
        pass
    parts = [x for x in p.parts if x not in ("/", "~")]
    while len(parts) > 1 and (_HASHLIKE.match(parts[-1]) or parts[-1] in ("snapshots", "checkpoints")):
        parts.pop()
    return parts[-1] if parts else "(local path)"


@lru_cache(maxsize=65536)
def _public_path(path: str) -> str:
    expanded = os.path.expanduser(path) if path.startswith("~") else path
    for form in {os.path.abspath(expanded), os.path.realpath(expanded)}:
        for root, name in _roots:
            if form == root or form.startswith(root + "/"):
                return name + form[len(root):]
    return public_name(path)


def scrub(text: str) -> str:
    """``text`` with every absolute path replaced by what a reader may see."""
    if "/" not in text:
        return text
    return _PATH.sub(lambda m: _public_path(m.group(1)), text)


def scrub_obj(o: Any) -> Any:
    """:func:`scrub` applied to every string (and key) of a JSON-like value."""
    if isinstance(o, str):
        return scrub(o)
    if isinstance(o, dict):
        return {scrub(str(k)): scrub_obj(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [scrub_obj(v) for v in o]
    return o
