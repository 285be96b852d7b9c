"""How fast this machine's disk gives back a corpus of samples files: the least time any build of it takes.

Every samples file under the given folders is read once, past the page cache (``O_DIRECT``, 1 MB
reads into a reused aligned buffer; ``leaderboard.safeio.lines`` reads a cold file the same way in
``safeio.DIRECT_CHUNK`` reads: 4 MB, 21.6 s against 22.0 s for 1 MB in bench/README.md), by ``--readers``
processes, each taking every n-th file; nothing is parsed. The time is wall-clock: what a build that
did nothing but read would take. Where ``O_DIRECT`` is refused the files are read through the page
cache (``direct: false`` in the figures; then pages already there are not read from the disk).

    python bench/bench_disk_read.py /tmp/lbfull/r1000-t6-d1000/inputs --readers 2 --json out.json

A figure holds only for the state the storage was in: on the VMs of issue 13 the same 18.2 GB read
at 200 MB/s the first time in a while and at ~800 MB/s right after (a cache below the VM, which
``--inputs cold`` of bench_leaderboard.py does not reach). Run it twice and report both.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

CHUNK = 1 << 20


def read_files(files: list[str]) -> tuple[int, bool]:
    """(bytes read, whether every file was read with O_DIRECT)."""
    buf = mmap.mmap(-1, CHUNK, flags=mmap.MAP_PRIVATE)  # page-aligned, as O_DIRECT needs
    direct_flag = getattr(os, "O_DIRECT", 0)
    n, all_direct = 0, bool(direct_flag)
    try:
        for f in files:
            try:
                fd = os.open(f, os.O_RDONLY | direct_flag)
            except OSError:  # O_DIRECT refused at open (some file systems)
                fd, all_direct = os.open(f, os.O_RDONLY), False
            try:
                off = 0
                while True:
                    try:
                        k = os.preadv(fd, [buf], off)
                    except OSError:  # refused at read: the page cache from here
                        if not direct_flag:
                            raise
                        import fcntl

                        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~direct_flag)
                        all_direct = False
                        continue
                    if k <= 0:
                        break
                    off += k
                    n += k
                    if k % 4096:  # a direct read that ends off the block grid: the end of the file
                        break
            finally:
                os.close(fd)
    finally:
        buf.close()
    return n, all_direct


def samples_files(roots: list[str]) -> list[str]:
    out = []
    for r in roots:
        out += [str(p) for p in Path(r).rglob("samples_*.jsonl") if p.is_file()]
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", help="folders holding samples_*.jsonl files (searched recursively)")
    p.add_argument("--readers", type=int, default=os.cpu_count() or 1, help="processes reading (default: one per CPU)")
    p.add_argument("--json", metavar="FILE")
    a = p.parse_args(argv)
    files = samples_files(a.roots)
    if not files:
        p.error(f"no samples_*.jsonl files under {', '.join(a.roots)}")
    k = max(1, min(a.readers, len(files)))
    t = time.perf_counter()
    with get_context("fork" if hasattr(os, "fork") else None).Pool(k) as pool:
        got = pool.map(read_files, [files[i::k] for i in range(k)])
    wall = time.perf_counter() - t
    n = sum(b for b, _ in got)
    figures = {"files": len(files), "gb": round(n / 1e9, 3), "readers": k, "wall_s": round(wall, 2),
               "mb_per_s": round(n / 1e6 / wall, 1) if wall > 0 else None, "direct": all(d for _, d in got)}
    print(json.dumps(figures, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
