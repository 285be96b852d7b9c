"""A local fake of the Hugging Face Hub endpoint (stdlib http.server on 127.0.0.1, a random port, a thread),
serving dataset repositories made of files a test writes. It answers just what ``huggingface_hub`` and
``datasets`` call to load a public dataset repository, and what ``ecomsuite data download --mirror hf://...``
fetches (the calls huggingface_hub 2.4 + datasets 5.2 make, logged while writing it):

    GET  /api/datasets/{repo}[/revision/{rev}]        dataset_info: id, sha, siblings
    GET  /api/datasets/{repo}/tree/{rev}[/{path}]     listing (?recursive=true), one page
    HEAD /datasets/{repo}/resolve/{rev}/{path}        X-Repo-Commit, ETag, Content-Length, Accept-Ranges
    GET  /datasets/{repo}/resolve/{rev}/{path}        the bytes, ``Range: bytes=N-`` answered with 206

``rev`` is ``main`` or a commit sha of the repository (40 hex digits, derived from its files; each ``add_repo``
is a new commit, and earlier ones stay served by their sha). Errors carry the
Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound), which huggingface_hub maps to its
exceptions. Every request is logged as (method, path without query, Range, Authorization). A repository made
with ``token=...`` answers 401 without ``Authorization: Bearer <token>``. A served path in ``cut_once`` is
closed after half of its bytes the first time; one in ``redirect`` is answered with a 302 to
``redirect[path]`` (a CDN elsewhere, as the Hub does for large files): ``cdn_url(body, host)`` serves a
file's bytes at ``/cdn/<git blob oid>`` under another host name for the same server (e.g. ``localhost``).

Use ``hub_endpoint(monkeypatch, hub, tmp)`` to point the already-imported libraries at it (the test session
sets HF_HUB_OFFLINE=1 at import, and both libraries read HF_ENDPOINT into constants at import).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


def git_blob_oid(body: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes]
    token: str | None = None
    sha: str = field(init=False)

    def __post_init__(self):
        h = hashlib.sha1()
        for path in sorted(self.files):
            h.update(path.encode() + b"\0" + git_blob_oid(self.files[path]).encode())
        self.sha = h.hexdigest()

    def dirs(self) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in self.files for i in range(1, p.count("/") + 1)}

    def entry(self, path: str) -> dict | None:
        if path in self.files:
            body = self.files[path]
            return {"type": "file", "path": path, "size": len(body), "oid": git_blob_oid(body)}
        if path in self.dirs():
            return {"type": "directory", "path": path, "size": 0, "oid": hashlib.sha1(path.encode()).hexdigest()}
        return None

    def tree(self, path: str, recursive: bool) -> list[dict] | None:
        if path and path not in self.dirs():
            return None
        prefix = path + "/" if path else ""
        under = sorted(p for p in set(self.files) | self.dirs() if p.startswith(prefix))
        if not recursive:
            under = [p for p in under if "/" not in p[len(prefix):]]
        return [self.entry(p) for p in under]


class FakeHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos: dict[str, Repo] = {}  # repo id -> its main
        self.commits: dict[str, dict[str, Repo]] = {}  # repo id -> sha -> that commit
        self.log: list[tuple[str, str, str | None, str | None]] = []
        self.cut_once: set[str] = set()
        self.redirect: dict[str, str] = {}
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def add_repo(self, repo_id: str, files: dict[str, bytes], token: str | None = None) -> Repo:
        """A new commit of ``repo_id`` (its main); earlier commits stay served by their sha."""
        self.repos[repo_id] = Repo(dict(files), token)
        self.commits.setdefault(repo_id, {})[self.repos[repo_id].sha] = self.repos[repo_id]
        return self.repos[repo_id]

    def resolve_path(self, repo_id: str, path: str, rev: str = "main") -> str:
        return f"/datasets/{repo_id}/resolve/{rev}/{path}"

    def cdn_url(self, body: bytes, host: str = "localhost") -> str:
        return f"http://{host}:{self.server_address[1]}/cdn/{git_blob_oid(body)}"

    def requests(self, method: str | None = None) -> list[str]:
        """``METHOD /path`` of every request so far (ids and revisions as sent), optionally of one method."""
        return [f"{m} {p}" for m, p, _rng, _auth in self.log if method in (None, m)]


_REPO = r"(?P<repo>[^/]+/[^/]+)"
_ROUTES = [
    ("info", re.compile(rf"/api/datasets/{_REPO}(?:/revision/(?P<rev>[^/]+))?")),
    ("tree", re.compile(rf"/api/datasets/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?")),
    ("resolve", re.compile(rf"/datasets/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)")),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHub

    def log_message(self, *args):
        pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, code: int, body: bytes = b"", headers: dict | None = None, error: str | None = None):
        self.send_response(code)
        if error:
            self.send_header("X-Error-Code", error)
            self.send_header("X-Error-Message", f"{error} (fake hub)")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj):
        self._send(200, json.dumps(obj).encode(), {"Content-Type": "application/json"})

    def _route(self, method: str):
        split = urlsplit(self.path)
        path = split.path
        self.server.log.append((method, path, self.headers.get("Range"), self.headers.get("Authorization")))
        if path.startswith("/cdn/") and method in ("GET", "HEAD"):     # where redirects point: blobs by oid
            blobs = {git_blob_oid(b): b for r in self.server.repos.values() for b in r.files.values()}
            if path[len("/cdn/"):] in blobs:
                return serve_bytes(self, blobs[path[len("/cdn/"):]], path, {})
        for name, pattern in _ROUTES:
            m = pattern.fullmatch(path)
            if not m:
                continue
            if name != "resolve" and method == "HEAD":
                continue
            groups = {k: unquote(v) if v is not None else None for k, v in m.groupdict().items()}
            repo = self.server.repos.get(groups["repo"])
            if repo is None:
                return self._send(404, b'{"error": "Repository not found"}', error="RepoNotFound")
            if repo.token and self.headers.get("Authorization") != f"Bearer {repo.token}":
                return self._send(401, b'{"error": "Invalid credentials"}', error="RepoNotFound")
            rev = groups.get("rev") or "main"
            if rev != "main":
                repo = self.server.commits.get(groups["repo"], {}).get(rev)
                if repo is None:
                    return self._send(404, b'{"error": "Invalid rev id"}', error="RevisionNotFound")
            return getattr(self, name)(repo, groups, parse_qs(split.query), path)
        self._send(404, b'{"error": "not served by the fake hub"}')

    def do_GET(self):
        self._route("GET")

    def do_HEAD(self):
        self._route("HEAD")

    # ------------------------------------------------------------------ endpoints
    def info(self, repo: Repo, g, _q, _path):
        self._json({"id": g["repo"], "author": g["repo"].split("/")[0], "sha": repo.sha, "private": bool(repo.token),
                    "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                    "lastModified": "2024-01-01T00:00:00.000Z", "createdAt": "2024-01-01T00:00:00.000Z",
                    "siblings": [{"rfilename": p, "size": len(b)} for p, b in sorted(repo.files.items())]})

    def tree(self, repo: Repo, g, q, _path):
        listing = repo.tree((g.get("path") or "").strip("/"), q.get("recursive", ["false"])[0].lower() == "true")
        if listing is None:
            return self._send(404, b'{"error": "not found"}', error="EntryNotFound")
        self._json(listing)

    def resolve(self, repo: Repo, g, _q, path):
        body = repo.files.get(g["path"])
        if body is None:
            return self._send(404, b'{"error": "Entry not found"}', {"X-Repo-Commit": repo.sha}, error="EntryNotFound")
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{git_blob_oid(body)}"', "Accept-Ranges": "bytes"}
        if path in self.server.redirect:
            return self._send(302, b"", {**headers, "Location": self.server.redirect[path],
                                         "X-Linked-Size": str(len(body))})
        serve_bytes(self, body, path, headers)


def serve_bytes(handler: BaseHTTPRequestHandler, body: bytes, key: str, headers: dict) -> None:
    """Answer a GET/HEAD with ``body``, honouring ``Range: bytes=N-`` (206, or 416 past the end); a ``key`` in
    ``handler.server.cut_once`` sends half of the bytes and closes the connection, the first time only."""
    rng = handler.headers.get("Range")
    start = int(m[1]) if rng and (m := re.fullmatch(r"bytes=(\d+)-", rng)) else 0
    if rng and start >= len(body):
        handler.send_response(416)
        handler.send_header("Content-Range", f"bytes */{len(body)}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    payload = body[start:]
    handler.send_response(206 if rng else 200)
    for k, v in headers.items():
        handler.send_header(k, v)
    if rng:
        handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    if handler.command == "HEAD":
        return
    if key in handler.server.cut_once:
        handler.server.cut_once.discard(key)
        handler.wfile.write(payload[: len(payload) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        return
    handler.wfile.write(payload)


def start() -> FakeHub:
    hub = FakeHub()
    threading.Thread(target=hub.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return hub


def stop(hub: FakeHub) -> None:
    hub.shutdown()
    hub.server_close()


def hub_endpoint(monkeypatch, hub: FakeHub, tmp: Path) -> None:
    """Point huggingface_hub and datasets (already imported) at ``hub``, online, with caches under ``tmp``:
    HF_ENDPOINT for what reads the environment (``ecomsuite data download``, subprocesses), the libraries'
    constants for what read it at import."""
    import datasets.config
    import huggingface_hub.constants as hc

    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp / "hf-home"))
    monkeypatch.setattr(hc, "ENDPOINT", hub.url)
    monkeypatch.setattr(hc, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp / "hf-home" / "hub"))
    monkeypatch.setattr(hc, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", hub.url)
    monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL", hub.url + "/datasets/{repo_id}/resolve/{revision}/{path}")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp / "hf-home" / "datasets"))
    monkeypatch.setattr(datasets.config, "DOWNLOADED_DATASETS_PATH", tmp / "hf-home" / "datasets" / "downloads")
    monkeypatch.setattr(datasets.config, "EXTRACTED_DATASETS_PATH",
                        tmp / "hf-home" / "datasets" / "downloads" / "extracted")
