"""ESCI at scale (issue 16): the Arrow reader on a 20k-row synthetic pair written by bench/bench_data.py
(the real schema, three locales, HTML in descriptions): `data info` counts without building documents,
and documents identical to the reader before it (pandas + whole-table dicts, from the git history)."""
import importlib.util
import subprocess
from pathlib import Path

import pytest

import ecomsuite.data as data
from ecomsuite.data import info_table, load_family

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_data", ROOT / "bench" / "bench_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return _bench().write_synthetic(tmp_path_factory.mktemp("esci20k"), 20_000, 4_000)


@pytest.fixture(scope="module")
def legacy():
    bench = _bench()
    have = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{bench.LEGACY_REV}^{{commit}}"],
                          capture_output=True).returncode == 0
    if not have:   # a shallow clone: said, not silent
        pytest.skip(f"old reader's commit {bench.LEGACY_REV[:10]} not in this clone's history")
    return bench.legacy_data_module()


@pytest.mark.parametrize("family,locale", [("esci", "us"), ("esci", "all"), ("esci", "jp"), ("desc_gen", "us")])
def test_documents_identical_to_the_old_reader(pair, legacy, family, locale):
    new, old = load_family(family, pair, locale=locale), legacy.load_family(family, pair, locale=locale)
    assert new.splits.keys() == old.splits.keys() and new.skipped == old.skipped
    for split in new.splits:
        assert len(new.splits[split]) > 100
        assert new.splits[split] == old.splits[split], (family, locale, split)
        assert [list(d) for d in new.splits[split][:5]] == [list(d) for d in old.splits[split][:5]]  # field order
    assert new.files == old.files and new.fingerprint() == old.fingerprint()


def test_info_counts_esci_without_building_documents(pair, monkeypatch):
    docs = {s: d for s, d in load_family("esci", pair).splits.items()}
    dg = load_family("desc_gen", pair)

    order_docs = data.order_docs

    def no_esci_docs(docs):
        assert not any("query_id" in d for d in docs), "data info built ESCI documents"
        return order_docs(docs)

    monkeypatch.setattr(data, "order_docs", no_esci_docs)
    monkeypatch.setattr(data, "_esci_product_fields", lambda *a: pytest.fail("data info read product text"))
    out = info_table(str(pair))
    for split, d in docs.items():
        line = next(ln for ln in out.splitlines() if ln.startswith("esci ") and f" {split} " in ln)
        assert f" {len(d)} " in line and data.label_distribution("esci", d) in line
    for split, d in dg.splits.items():
        line = next(ln for ln in out.splitlines() if ln.startswith("desc_gen ") and f" {split} " in ln)
        assert f" {len(d)} " in line and data.label_distribution("desc_gen", d) in line


def test_info_same_as_the_old_info(pair, legacy):
    assert info_table(str(pair)) == legacy.info_table(str(pair))
    assert info_table(str(pair), locale="es") == legacy.info_table(str(pair), locale="es")
