"""One config layer (issue 12 §5): recipe + key=value + flags with help for every key, one name per concept,
every problem at once with its source; a study's --dry-run checks every run's options through the same layer;
existing spellings (packaged recipes, studies, documented commands) still parse."""
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ecomsuite import EcomError
from ecomsuite.config import ConfigParser, option, yaml_value
from ecomsuite.trainers import baselines, merge, sft

REPO = Path(__file__).resolve().parents[1]
PARSERS = {"sft": sft.PARSER, "merge": merge.PARSER, "baseline": baselines.PARSER}


@pytest.mark.parametrize("name", PARSERS)
def test_every_option_in_help_has_a_sentence(name):
    p = PARSERS[name]
    assert p.missing_help() == []
    for action in p.build()._actions:
        assert action.help and len(action.help.split()) >= 2, action.option_strings
    text = p.build().format_help()
    for f in p.fields:
        assert "--" + f.replace("_", "-") in text, f


def test_one_name_per_concept():
    for p in PARSERS.values():
        assert "lr" not in p.fields and "limit" not in p.fields and "out" in p.fields
    assert "learning_rate" in sft.PARSER.fields and "learning_rate" in baselines.PARSER.fields
    assert "eval_limit" in sft.PARSER.fields and "eval_limit" in baselines.PARSER.fields
    # the old baseline spellings are documented aliases
    cfg = baselines.parse_config(["ecom_esci_gen", "--model", "t5-small", "--method", "seq2seq", "lr=1e-3", "--limit", "5"])
    assert (cfg.learning_rate, cfg.eval_limit) == (1e-3, 5.0)
    assert "`lr` is accepted as an alias" in baselines.PARSER.help_text("learning_rate")


@dataclass
class Toy:
    out: str = option("", "output folder")
    size: int = option(1, "how many")
    rate: float | None = option(None, "a rate", aliases=("r",))
    names: list[str] = option(help="some names", default_factory=list)
    on: bool = option(False, "switch")


def test_sources_win_in_order_and_problems_name_their_source(tmp_path):
    recipe = tmp_path / "toy.yaml"
    recipe.write_text("size: 2\nrate: 0.5\nout: '1000'\n")
    p = ConfigParser(Toy, "toy", "A toy.")
    cfg = p.parse([str(recipe), "size=3", "--rate", "1e-5", "--names", "a", "b", "r=7"])
    assert (cfg.size, cfg.rate, cfg.names, cfg.out) == (3, 1e-5, ["a", "b"], "1000")  # --flag beats key=value
    recipe.write_text("size: many\nsiez: 2\n")
    with pytest.raises(EcomError) as e:
        p.parse([str(recipe), "on=maybe", "--rate", "x"], validate=lambda c: ["out: is required"])
    msg = str(e.value)
    assert msg.startswith(f"{recipe}: 5 problem(s): ") and "\n" not in msg
    for needle in (f"size: must be an integer (got 'many') [{recipe}]", f"unknown key 'siez' in {recipe} (did you "
                   "mean 'size'?)", "on: must be true or false (got 'maybe') [on=maybe]",
                   "rate: must be a finite number (got 'x') [--rate]", "out: is required"):
        assert needle in msg, needle


def test_yaml_values():
    assert yaml_value("1e-5") == 1e-5 and yaml_value("[a, b]") == ["a", "b"] and yaml_value("null") is None
    assert yaml_value("{a: 1") == "{a: 1"


def test_unknown_flag_is_one_line():
    with pytest.raises(EcomError, match=r"ecomsuite merge: unrecognized arguments: --nope"):
        merge.config_from_args(["--nope"])


# --------------------------------------------------------------- existing spellings still parse
def _doc_commands(doc: str, command: str) -> list[list[str]]:
    out = []
    for line in (REPO / "docs" / doc).read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if line.startswith(f"ecomsuite {command} ") and "<" not in line and "$" not in line:
            out.append(shlex.split(line.split("#")[0])[2:])
    return out


def test_documented_baseline_and_merge_commands_parse(tmp_path):
    for argv in _doc_commands("baselines.md", "baseline"):
        argv = [a for a in argv if a != "--eval-only"] + ["--overwrite"]
        try:
            baselines.parse_config(argv)
        except EcomError as e:   # folders of the docs' examples may not exist here (a clone without ../shared/data)
            m = re.fullmatch(r"(?:ecomsuite baseline|\S+\.yaml): ([12]) problem\(s\): (.*)", str(e))
            parts = re.split(r"; (?=(?:model|data_dir): )", m.group(2)) if m else []
            assert m and len(parts) == int(m.group(1)), (argv, str(e))
            assert all(re.match(r"(model|data_dir): .* not found", x) for x in parts), (argv, str(e))
    for argv in _doc_commands("merge.md", "merge"):
        merge.config_from_args(argv)


def test_sft_recipes_and_docs_commands_parse(tmp_path):
    for argv in _doc_commands("sft.md", "sft"):
        argv = [a.replace("../shared/data", str(tmp_path)) for a in argv]
        try:
            sft.parse_args(argv, check_env=False)
        except EcomError as e:
            assert "model: folder not found" in str(e) or "unknown task" in str(e), (argv, str(e))


def test_study_typo_in_nested_params_fails_dry_run(tmp_path):
    from ecomsuite.reproduce import main

    study = yaml.safe_load((REPO / "ecomsuite" / "studies" / "smoke.yaml").read_text())
    study["sft"]["params"]["lora_rr"] = 8
    study["merges"][0]["density"] = "lots" if study.get("merges") else None
    f = tmp_path / "typo.yaml"
    f.write_text(yaml.safe_dump(study))
    with pytest.raises(EcomError) as e:
        main([str(f), "--dry-run", "--out", str(tmp_path / "o")])
    msg = str(e.value)
    assert "unknown key 'lora_rr'" in msg and "did you mean 'lora_r'" in msg
    assert "run merge/" in msg and "density: must be a finite number (got 'lots')" in msg


def test_reproduce_builds_the_site_through_the_builders_function(tmp_path, monkeypatch):
    from ecomsuite import reproduce
    from ecomsuite.leaderboard import build

    seen = []

    def fake(opts):
        seen.append(opts)
        raise build.BuildError("no results")

    monkeypatch.setattr(build, "build_site", fake)
    (tmp_path / "results").mkdir()
    study = {"eval": {"limit": 8}, "leaderboard": {"title": "t", "bootstrap_iters": 100}}
    assert reproduce.build_site(study, tmp_path) == 2
    o = seen[0]
    assert (o.results, o.out, o.title, o.bootstrap_iters, o.include_limited) == (
        [str(tmp_path / "results")], str(tmp_path / "site"), "t", 100, True)
    assert reproduce.SCHEMA["leaderboard"] <= set(build.BuildOptions.__dataclass_fields__)
    assert reproduce._leaderboard_problems({"bootstrap_iters": 0, "plots": "yes", "tasks": "ecom_esci"}) == [
        "leaderboard.bootstrap_iters: must be a positive integer, got 0",
        "leaderboard.plots: must be true or false, got 'yes'",
        "leaderboard.tasks: must be a list of task names or globs, got 'ecom_esci'"]
