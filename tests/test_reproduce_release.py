"""A study's forked runs release what they allocate through multiprocessing (issue 12 §6: `make demo` ended
with "26 leaked semaphore objects", one per run: tqdm's write lock, created in each run and never unlinked
because a forked run ends with os._exit)."""
import subprocess
import sys
import textwrap


_KEEP = []


def uses_a_lock(argv):  # what a real run does: a library keeps a multiprocessing lock (a named semaphore) for life
    import multiprocessing

    _KEEP.append(multiprocessing.get_context("spawn").RLock())
    return 0


def test_forked_runs_leak_no_semaphore(tmp_path):
    script = tmp_path / "study.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from pathlib import Path
        from ecomsuite import reproduce as R
        if __name__ == "__main__":
            out = Path({str(tmp_path)!r})
            r = R.Run("x", "eval", ["noop"], out)
            rcs = [R._run_forked(r, out / "run.log", entry="test_reproduce_release:uses_a_lock") for _ in range(3)]
            print("rcs", rcs)
    """))
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert "rcs [0, 0, 0]" in res.stdout, res.stdout + res.stderr
    assert "leaked semaphore" not in res.stderr, res.stderr
