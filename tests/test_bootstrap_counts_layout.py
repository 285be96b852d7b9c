"""Cluster resamples (bootstrap.resample_counts with clusters) own their data, in the layout the
columns taken from the clusters' counts have: their float conversions are remembered (made once per
process, not once per cell) and every product gives the bits it gave from the view."""
import numpy as np
import pytest

from ecomsuite import bootstrap as bs


@pytest.mark.parametrize("n,n_boot,n_clusters", [(1000, 2000, 120), (37, 50, 5), (5, 3, 5)])
def test_cluster_counts_own_their_data_and_give_the_same_bits(n, n_boot, n_clusters):
    rng = np.random.default_rng(n)
    clusters = [f"q{rng.integers(n_clusters)}" for _ in range(n)]
    seed = (7, f"task{n}")
    counts = bs.resample_counts(n, n_boot, seed, clusters)
    codes, k = bs.cluster_codes(clusters, n)
    view = bs._row_counts(bs._draw(n, n_boot, seed, codes, k), k)[:, codes]  # what it was
    view.setflags(write=False)
    assert np.array_equal(counts, view) and counts.strides == view.strides and counts.dtype == view.dtype
    assert counts.flags.owndata and not counts.flags.writeable
    assert bs._derived(counts, "f32", bs._as_f32) is bs._derived(counts, "f32", bs._as_f32)  # remembered
    ints = rng.integers(0, 3, size=(n, 12)).astype(np.float64)
    fractions = rng.random((n, 1))
    for stats in (ints, fractions, ints[:, :1]):
        got, want = bs._resample_sums(counts, stats), bs._resample_sums(view, stats)
        assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()
