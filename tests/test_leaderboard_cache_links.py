"""The samples cache at a rebuild: a cached file's viewer file is a hard link to the published site's
identical file (never to anything else), and a samples file's key changes with any rewrite."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest


def _runs(tmp_path, n=3):
    from ecomsuite.leaderboard import synthetic

    runs = tmp_path / "runs"
    for i in range(n):
        synthetic.write_run(runs, synthetic.RunSpec(name=f"org/m{i}", skill=0.3 + 0.2 * i,
                                                    tasks=["ecom_queryner", "ecom_esci_gen"], n_docs=12, seed=i))
    return runs


def _build(runs, site, **kw):
    from ecomsuite.leaderboard import build

    kw.setdefault("bootstrap_iters", 50)
    kw.setdefault("plots", False)
    return build.build_site(build.BuildOptions(results=[str(runs)], out=str(site), generated="t", **kw))


def _files(site):
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def _fresh(runs, tmp_path):
    _build(runs, tmp_path / "fresh", cache=False)
    return _files(tmp_path / "fresh")


def _data(site):
    return sorted(p for p in site.glob("data/*/*.js") if not p.name.startswith("_"))


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_cached_rebuild_links_each_viewer_file_from_the_published_site(tmp_path, jobs):
    runs = _runs(tmp_path)
    site = tmp_path / "site"
    first = _build(runs, site, jobs=jobs)
    assert first.views_linked == 0
    inodes = {p.name + p.parent.name: os.stat(p).st_ino for p in _data(site)}
    assert len(inodes) == first.sample_files == 6
    again = _build(runs, site, jobs=jobs)
    assert again.sample_cache_hits == again.views_linked == 6
    assert {p.name + p.parent.name: os.stat(p).st_ino for p in _data(site)} == inodes  # the same files
    assert _files(site) == _fresh(runs, tmp_path)


def test_a_published_viewer_file_that_is_not_the_entrys_is_never_linked(tmp_path):
    """Other bytes of the same size, a symbolic link to a copy outside the site: the new site gets
    the entry's own bytes in a file of its own; nothing outside the site is written to or linked.
    (A data folder that is a symbolic link is refused before anything: check_out.)"""
    runs = _runs(tmp_path)
    site = tmp_path / "site"
    _build(runs, site)
    want = _fresh(runs, tmp_path)
    files = _data(site)
    tampered, linked = files[0], files[1]
    raw = bytearray(tampered.read_bytes())
    raw[-5] = ord("A") if raw[-5] != ord("A") else ord("B")
    tampered.write_bytes(bytes(raw))  # same size, other bytes
    outside = tmp_path / "outside.js"
    outside.write_bytes(linked.read_bytes())
    linked.unlink()
    os.symlink(outside, linked)
    held = {outside: outside.read_bytes()}
    again = _build(runs, site)
    assert again.sample_cache_hits == 6 and again.views_linked == 6 - 2
    assert _files(site) == want
    new_inodes = {os.stat(p).st_ino for p in site.rglob("*") if p.is_file()}
    assert not new_inodes & {os.stat(p).st_ino for p in held}  # nothing outside the site is part of it
    assert {p: p.read_bytes() for p in held} == held
    assert not any(p.is_symlink() for p in site.rglob("*"))


def test_a_corrupt_viewer_member_is_refused_and_the_file_read_again(tmp_path, capsys):
    from ecomsuite.leaderboard import build, cache

    runs = _runs(tmp_path)
    site = tmp_path / "site"
    _build(runs, site)
    for p in _data(site):  # nothing to link from: each entry's viewer bytes are needed
        p.unlink()
    entry = min(build.cache_dir_for(site).glob(f"*{cache.SUFFIX}"))
    raw = bytearray(entry.read_bytes())
    raw[-3] ^= 0x01  # the view member is the last one
    entry.write_bytes(bytes(raw))
    capsys.readouterr()
    again = _build(runs, site)
    assert "view corrupt" in capsys.readouterr().err
    assert again.sample_cache_hits == 5 and again.views_linked == 0
    assert _files(site) == _fresh(runs, tmp_path)


def _rewrite(path: Path, at: int) -> None:
    """Change one byte at ``at`` (same size) and put the mtime back."""
    st = os.stat(path)
    raw = bytearray(path.read_bytes())
    raw[at] = ord("x") if raw[at] != ord("x") else ord("y")
    path.write_bytes(bytes(raw))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size and os.stat(path).st_mtime_ns == st.st_mtime_ns


def test_the_file_identity_changes_with_a_same_size_rewrite_whose_mtime_is_put_back(tmp_path):
    from ecomsuite.leaderboard import cache

    f = tmp_path / "samples.jsonl"
    f.write_bytes(b"a" * (5 * cache.HEAD_BYTES))
    seen = {cache.file_identity(str(f))}
    _rewrite(f, 1)  # at once (maybe the same clock tick): the head is hashed
    seen.add(cache.file_identity(str(f)))
    _rewrite(f, f.stat().st_size - 2)  # the tail too
    seen.add(cache.file_identity(str(f)))
    time.sleep(0.05)  # past the clock tick of the last write: ctime tells the middle apart
    _rewrite(f, 2 * cache.HEAD_BYTES)
    seen.add(cache.file_identity(str(f)))
    assert len(seen) == 4 and None not in seen
    g = tmp_path / "other.jsonl"
    g.write_bytes(f.read_bytes())
    os.utime(g, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
    os.replace(g, f)  # the same bytes and mtime in another file
    assert cache.file_identity(str(f)) not in seen
    os.mkfifo(tmp_path / "fifo")
    assert cache.file_identity(str(tmp_path / "fifo")) is None  # not waited on, not a key
    assert cache.file_identity(str(tmp_path / "missing")) is None


def test_a_samples_file_rewritten_in_place_with_its_mtime_put_back_is_read_again(tmp_path):
    runs = _runs(tmp_path)
    site = tmp_path / "site"
    _build(runs, site)
    smp = max(runs.rglob("samples_ecom_esci_gen_*.jsonl"))
    raw = smp.read_bytes()
    at = next(i for i in range(len(raw) // 2, len(raw)) if raw[i:i + 1].isalpha())  # in the middle of the file
    time.sleep(0.05)
    _rewrite(smp, at)
    again = _build(runs, site)
    assert again.sample_cache_hits == 5
    assert _files(site) == _fresh(runs, tmp_path)
