"""Span micro-F1 resamples from the per-kind totals (bootstrap._span_micro_boot): the bits of the
general path (every type's column summed, then seqeval's F1), and the general path wherever a sum
might not be exact."""
import numpy as np
import pytest

from ecomsuite import bootstrap as bs


def _general(counts, stats):
    sums, totals = bs._resample_sums(counts, stats)
    return np.asarray(bs._finish_span_micro(sums, totals), dtype=np.float64)


@pytest.mark.parametrize("seed", range(12))
def test_same_bits_as_the_general_path(seed):
    rng = np.random.default_rng(seed)
    n, types = int(rng.integers(1, 400)), int(rng.integers(1, 20))
    stats = rng.integers(0, 4, size=(n, 3 * types)) * (rng.random((n, 3 * types)) < rng.random())
    stats = stats.astype(np.float64)
    if seed % 3 == 0:
        stats[:, 0::3] = 0  # no true positive anywhere: F1 0, divisions by zero
    if seed % 4 == 1:
        stats[:] = 0
    counts = bs.resample_counts(n, 300, ("span", seed))
    p = bs.Prepared("span_f1", n, 0.0, stats, bs._finish_span_micro, finish_id="span_micro")
    assert bs._span_micro_boot(counts, stats) is not None
    assert p.boot(counts).tobytes() == _general(counts, stats).tobytes()


@pytest.mark.parametrize("case", ["fraction", "negative", "huge", "float_counts", "not_triples"])
def test_inexact_inputs_take_the_general_path(case):
    rng = np.random.default_rng(1)
    n = 50
    stats = rng.integers(0, 3, size=(n, 6)).astype(np.float64)
    counts = bs.resample_counts(n, 40, ("span", case))
    if case == "fraction":
        stats[3, 1] = 0.5
    elif case == "negative":
        stats[3, 1] = -1.0
    elif case == "huge":
        stats[3, 1] = float(1 << 20)  # x a resample's 50 documents: beyond float32's exact integers
    elif case == "float_counts":
        counts = counts.astype(np.float64)
    else:
        stats = stats[:, :5]
    assert bs._span_micro_boot(counts, stats) is None
    if stats.shape[1] % 3 == 0:
        p = bs.Prepared("span_f1", n, 0.0, stats, bs._finish_span_micro, finish_id="span_micro")
        assert p.boot(counts).tobytes() == _general(counts, stats).tobytes()
