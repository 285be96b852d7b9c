"""The samples workers take the files in batches (samples._batches): every job once, in order, long
batches first and short ones at the end; the pool's results are the serial ones, in job order."""
import pytest

from ecomsuite.leaderboard import samples as SM


@pytest.mark.parametrize("n,n_jobs", [(0, 2), (1, 2), (7, 2), (64, 2), (65, 2), (300, 2), (6000, 2), (1000, 4)])
def test_batches_cover_the_jobs_in_order(n, n_jobs):
    jobs = list(range(n))
    batches = SM._batches(jobs, n_jobs)
    assert [j for b in batches for j in b] == jobs
    assert all(b for b in batches)
    tail = min(n, 2 * n_jobs * SM.BATCH)
    end = len(batches)
    while end and len(batches[end - 1]) <= SM.BATCH_END:
        end -= 1
    assert sum(map(len, batches[end:])) >= tail  # the last files in short batches
    assert all(len(b) == SM.BATCH for b in batches[:max(end - 1, 0)]) and all(len(b) <= SM.BATCH for b in batches[:end])
    assert len(batches) <= -(-(n - tail) // SM.BATCH) + -(-tail // SM.BATCH_END)
