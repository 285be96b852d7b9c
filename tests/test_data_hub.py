"""Tasks that lm-eval loads itself (issue 16): a local folder laid out like a Hugging Face Hub dataset repository
(README with `configs`, parquet shards under data/) as `dataset_path`, and lm-eval's own `json` + `data_files`,
run through ecomsuite commands offline and record their provenance as the ecom readers do. And a run option
that a task's dataset_kwargs also set (`--metadata locale=...`): one option when the values agree, a one-line
error naming the task and key when they do not (was a TypeError inside lm-eval)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ecomsuite.cli import main

REPO = Path(__file__).resolve().parent.parent

PRODUCTS = [("red cotton shirt", "shirts"), ("blue wool sock", "socks"), ("green silk scarf", "scarves"),
            ("black leather belt", "belts"), ("white linen towel", "towels"), ("grey fleece hat", "hats")]
HUB_README = """---
license: cc-by-4.0
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
  - split: test
    path: data/test-*.parquet
---
# shop categories

A dataset card, as a Hub dataset repository has one.
"""


def _task_yamls(hub: Path, plain: Path) -> dict[str, str]:
    """The json task of tests/test_task_folder.py over ``plain``, and the same task reading the Hub-layout
    folder ``hub`` (its own dataset_path, no data_files)."""
    from test_task_folder import JSON_YAML

    json_task = JSON_YAML.format(d=plain)
    hub_task = re.sub(r"dataset_path: json\ndataset_kwargs:\n  data_files: .*\n", f"dataset_path: {hub}\n", json_task)
    assert hub_task != json_task
    return {"json_cat": json_task.replace("task: shop_category", "task: json_cat"),
            "hub_cat": hub_task.replace("task: shop_category", "task: hub_cat")}


def _rows(split):
    chosen = PRODUCTS[:4] if split == "train" else PRODUCTS[4:]
    return [{"id": f"cat-{t}", "title": t, "category": c} for t, c in chosen]


def _hub_repo(folder: Path) -> Path:
    """A folder as `huggingface-cli download --repo-type dataset` leaves one: card + parquet shards."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text(HUB_README)
    for split in ("train", "test"):
        pq.write_table(pa.Table.from_pylist(_rows(split)), folder / "data" / f"{split}-00000-of-00001.parquet")
    return folder


@pytest.fixture
def hub_tasks(tmp_path, monkeypatch):
    """(task folder, hub-layout data folder, jsonl folder): two tasks over the same documents, one reading the
    Hub-layout folder, one lm-eval's json builder with data_files."""
    hub = _hub_repo(tmp_path / "shop-categories")
    plain = tmp_path / "jsonl"
    plain.mkdir()
    for split in ("train", "test"):
        (plain / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(split)))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name, text in _task_yamls(hub, plain).items():
        (tasks / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("ECOMSUITE_INCLUDE_PATH", str(tasks))
    _fresh_datasets_cache(monkeypatch, tmp_path / "hf-datasets")
    return tasks, hub, plain


def _fresh_datasets_cache(monkeypatch, folder: Path) -> None:
    """datasets' cache in ``folder``, not the user's. (datasets 5.2 keys a local folder's cache by the folder's
    name alone: another folder of the same name, or the same one rewritten, reads the first one's cache.)"""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(folder))


def test_hub_layout_folder_runs_through_validate_and_eval_with_provenance(hub_tasks, tmp_path):
    from test_tasks_lmeval import _make_lm

    from ecomsuite.evaluate import evaluate
    from ecomsuite.prompts import load_tasks, render_examples

    tasks, hub, plain = hub_tasks
    assert main(["tasks", "validate", str(tasks)]) == 0
    names = ["hub_cat", "json_cat"]
    gold = {ex["prompt"]: ex["completion"].strip()
            for task in load_tasks(names).values() for ex in render_examples(task, split="test")}
    assert len(gold) == 2
    res = evaluate(model=_make_lm(lambda ctx, cont: gold[ctx] if cont is None else gold[ctx] == cont.strip()),
                   tasks=names, limit=None, output_path=tmp_path / "eval")
    assert all(res["results"][n]["exact_match,none"] == 1.0 for n in names)
    hub_meta, json_meta = (res["configs"][n]["metadata"] for n in names)
    assert hub_meta["data_source"] == str(hub.resolve())
    assert json_meta["data_source"] == (f"json: train={(plain / 'train.jsonl').resolve()}; "
                                        f"test={(plain / 'test.jsonl').resolve()}")
    for meta in (hub_meta, json_meta):
        assert meta["data_docs"] == {"train": 4, "test": 2} and meta["data_is_sample"] is False
        assert meta["doc_order"].startswith("as loaded")
    # the same documents in parquet shards and in jsonl: one fingerprint; the results file says so too
    assert hub_meta["data_fingerprint"] == json_meta["data_fingerprint"]
    (results_file,) = (tmp_path / "eval").rglob("results_*.json")
    on_disk = json.loads(results_file.read_text())["configs"]["hub_cat"]["metadata"]
    assert on_disk["data_fingerprint"] == hub_meta["data_fingerprint"]


def test_fingerprint_follows_the_documents(hub_tasks, tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ecomsuite.prompts import load_tasks

    _tasks, hub, _plain = hub_tasks
    before = load_tasks(["hub_cat"])["hub_cat"].config.metadata["data_fingerprint"]
    rows = _rows("test")
    rows[0]["category"] = "bath"
    pq.write_table(pa.Table.from_pylist(rows), hub / "data" / "test-00000-of-00001.parquet")
    _fresh_datasets_cache(monkeypatch, tmp_path / "hf-datasets-2")   # see _fresh_datasets_cache
    task = load_tasks(["hub_cat"])["hub_cat"]
    assert {d["category"] for d in task.dataset["test"]} == {"bath", "hats"}
    after = task.config.metadata
    assert after["data_fingerprint"] != before and after["data_docs"] == {"train": 4, "test": 2}


def test_every_ecomsuite_task_manager_build_path_records_provenance(hub_tasks):
    """`load` (ecomsuite commands) and `load_task_or_group` (lm-eval's simple_evaluate) both record."""
    import warnings

    from ecomsuite.lmeval import task_manager

    tm = task_manager()
    assert tm.load(["hub_cat"])["tasks"]["hub_cat"].config.metadata["data_docs"] == {"train": 4, "test": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        legacy = task_manager().load_task_or_group(["json_cat"])
    assert legacy["json_cat"].config.metadata["data_source"].startswith("json: train=")


# ------------------------------------------------------- a Hub dataset id, served by a local fake of the Hub
@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """tests/fakehub.py on a random port, huggingface_hub and datasets pointed at it (online, caches in tmp)."""
    import fakehub

    hub = fakehub.start()
    fakehub.hub_endpoint(monkeypatch, hub, tmp_path)
    yield hub
    fakehub.stop(hub)


def _repo_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _hub_id_task(tasks: Path, hub_folder: Path) -> None:
    """hubid_cat: the hub_cat task reading the Hub dataset repository shop/categories instead of the folder."""
    text = (tasks / "hub_cat.yaml").read_text()
    hub_id = text.replace(f"dataset_path: {hub_folder}\n", "dataset_path: shop/categories\n")
    assert hub_id != text
    (tasks / "hubid_cat.yaml").write_text(hub_id.replace("task: hub_cat", "task: hubid_cat"))


def test_hub_dataset_id_runs_through_validate_and_eval_with_its_commit(hub_tasks, fake_hub, tiny_llama, tmp_path):
    """``dataset_path: shop/categories`` read from the (fake) Hub endpoint by datasets itself: `ecomsuite tasks
    validate` and `ecomsuite eval` run it, and the results name the repository at the commit the Hub reported,
    the documents per split, and the fingerprint of the same documents read from the local Hub-layout folder."""
    tasks, hub_folder, _plain = hub_tasks
    repo = fake_hub.add_repo("shop/categories", _repo_files(hub_folder))
    _hub_id_task(tasks, hub_folder)
    assert main(["tasks", "validate", str(tasks)]) == 0
    assert f"GET /api/datasets/shop/categories/revision/{repo.sha}" in fake_hub.requests()
    out = tmp_path / "eval"
    assert main(["eval", "--model-args", f"pretrained={tiny_llama}", "--tasks", "hubid_cat", "hub_cat",
                 "--device", "cpu", "--batch-size", "2", "--output-path", str(out)]) == 0
    (results_file,) = out.rglob("results_*.json")
    configs = json.loads(results_file.read_text())["configs"]
    from_hub, from_folder = configs["hubid_cat"]["metadata"], configs["hub_cat"]["metadata"]
    assert from_hub["data_source"] == f"hf://datasets/shop/categories@{repo.sha}"
    assert from_hub["data_docs"] == {"train": 4, "test": 2} and from_hub["data_is_sample"] is False
    assert from_hub["data_fingerprint"] == from_folder["data_fingerprint"]
    parquet = [p for p in fake_hub.requests("GET") if p.endswith(".parquet")]
    assert parquet and all(f"/resolve/{repo.sha}/data/" in p for p in parquet)   # read at that commit


def test_hub_dataset_provenance_follows_the_commit_and_survives_offline(hub_tasks, fake_hub, monkeypatch):
    """A new commit on the Hub is a new source (and fingerprint when the documents change); offline, datasets
    reads its newest cached copy and the provenance still names that commit."""
    import datasets.config
    import huggingface_hub.constants as hc

    from ecomsuite.prompts import load_tasks

    tasks, hub_folder, _plain = hub_tasks
    _hub_id_task(tasks, hub_folder)
    first = fake_hub.add_repo("shop/categories", _repo_files(hub_folder))
    meta = load_tasks(["hubid_cat"])["hubid_cat"].config.metadata
    assert meta["data_source"] == f"hf://datasets/shop/categories@{first.sha}"

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows("test")
    rows[0]["category"] = "bath"
    pq.write_table(pa.Table.from_pylist(rows), hub_folder / "data" / "test-00000-of-00001.parquet")
    second = fake_hub.add_repo("shop/categories", _repo_files(hub_folder))
    assert second.sha != first.sha
    meta2 = load_tasks(["hubid_cat"])["hubid_cat"].config.metadata
    assert meta2["data_source"] == f"hf://datasets/shop/categories@{second.sha}"
    assert meta2["data_fingerprint"] != meta["data_fingerprint"]

    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    n = len(fake_hub.log)
    offline = load_tasks(["hubid_cat"])["hubid_cat"].config.metadata
    assert len(fake_hub.log) == n                      # nothing asked of the Hub
    assert offline["data_source"] == f"hf://datasets/shop/categories@{second.sha}"
    assert offline["data_fingerprint"] == meta2["data_fingerprint"]


def test_a_task_pinned_to_a_commit_gets_that_commit_or_stops(hub_tasks, fake_hub, monkeypatch, capsys):
    """``dataset_kwargs.revision`` pinned to a commit: online, the documents of that commit (not main's);
    offline, datasets reads the newest cached commit whatever was pinned -- then the task stops with a one-line
    DataError naming the task, the repository and both commits, instead of scoring other documents. A pin to
    the cached commit loads offline."""
    import datasets.config
    import huggingface_hub.constants as hc

    from ecomsuite.data import DataError
    from ecomsuite.prompts import load_tasks

    tasks, hub_folder, _plain = hub_tasks
    _hub_id_task(tasks, hub_folder)
    first = fake_hub.add_repo("shop/categories", _repo_files(hub_folder))
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = _rows("test")
    rows[0]["category"] = "bath"
    pq.write_table(pa.Table.from_pylist(rows), hub_folder / "data" / "test-00000-of-00001.parquet")
    second = fake_hub.add_repo("shop/categories", _repo_files(hub_folder))
    text = (tasks / "hubid_cat.yaml").read_text()

    def pin(name: str, sha: str) -> None:
        (tasks / f"{name}.yaml").write_text(text.replace("task: hubid_cat", f"task: {name}").replace(
            "dataset_path: shop/categories\n", f"dataset_path: shop/categories\ndataset_kwargs:\n  revision: {sha}\n"))
    pin("pin_second", second.sha)
    pin("pin_first", first.sha)
    main_meta = load_tasks(["hubid_cat"])["hubid_cat"].config.metadata         # main: the second commit, cached
    assert main_meta["data_source"].endswith(f"@{second.sha}")
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    assert load_tasks(["pin_second"])["pin_second"].config.metadata["data_fingerprint"] == main_meta["data_fingerprint"]
    with pytest.raises(DataError) as e:                                         # the first was never fetched
        load_tasks(["pin_first"])
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("task pin_first: dataset_kwargs.revision pins shop/categories at "
                                               f"{first.sha}, but datasets loaded commit {second.sha}")
    assert main(["tasks", "validate", str(tasks)]) != 0
    assert f"pins shop/categories at {first.sha}" in capsys.readouterr().err
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", False)                           # online: that commit's documents
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    meta = load_tasks(["pin_first"])["pin_first"].config.metadata
    assert meta["data_source"] == f"hf://datasets/shop/categories@{first.sha}"
    assert meta["data_fingerprint"] != main_meta["data_fingerprint"]


# ------------------------------------------------------------------ a run option the task also sets
LOCALE_TASK = """\
include: {template}
task: shop_esci_es
dataset_kwargs: {{format: esci, locale: es}}
output_type: multiple_choice
doc_to_choice: ["exact", "substitute", "complement", "irrelevant"]
doc_to_target: 0
metric_list:
  - {{metric: acc, aggregation: mean, higher_is_better: true}}
metadata: {{version: 1.0, headline: acc}}
"""


@pytest.fixture
def locale_task(tmp_path, monkeypatch):
    folder = tmp_path / "locale_tasks"
    folder.mkdir()
    (folder / "shop_esci_es.yaml").write_text(LOCALE_TASK.format(template=REPO / "tasks" / "esci" / "_esci_template"))
    (folder / "utils.py").write_text("from ecomsuite.lmeval import load_docs  # noqa: F401\n")
    monkeypatch.setenv("ECOMSUITE_INCLUDE_PATH", str(folder))
    return folder


def test_metadata_option_the_task_also_sets_is_one_line_not_a_typeerror(locale_task, capsys):
    from ecomsuite.data import DataError
    from ecomsuite.prompts import load_tasks

    with pytest.raises(DataError) as e:
        load_tasks(["shop_esci_es"], metadata={"locale": "jp"})
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("task shop_esci_es: 'locale' is set both by the run's metadata ('jp')")
    assert "dataset_kwargs ('es')" in msg
    # the same value twice is one option: the task loads, on its own locale
    task = load_tasks(["shop_esci_es"], metadata={"locale": "es"})["shop_esci_es"]
    assert task.config.metadata["locale"] == "es"
    assert {d["locale"] for d in task.dataset["test"]} == {"es"}
    # a task that leaves the option open still takes it from the run (tasks/esci/README.md)
    assert load_tasks(["ecom_esci"], metadata={"locale": "jp"})["ecom_esci"].config.metadata["locale"] == "jp"


def test_plain_lm_eval_task_manager_gets_the_same_error(locale_task):
    """lm-eval's own TaskManager (as `lm_eval --include_path ... --metadata` builds tasks), not ecomsuite's."""
    from lm_eval.tasks import TaskManager

    import ecomsuite.lmeval  # noqa: F401 - what every ecom task's utils.py imports
    from ecomsuite.data import DataError

    tm = TaskManager(include_path=[str(locale_task), str(REPO / "tasks")], include_defaults=False,
                     metadata={"locale": "us"})
    with pytest.raises(DataError, match=r"task shop_esci_es: 'locale' is set both .*\('us'\).*\('es'\)"):
        tm.load(["shop_esci_es"])
