"""The ``ecomsuite`` command. Each subcommand's --help shows a runnable example.

    ecomsuite eval                         # embedded SmolLM2 on every ecom task (sample data, 20 docs/task)
    ecomsuite eval --data-dir ../shared/data --limit 0 --model-args pretrained=HF_ID_OR_DIR
    ecomsuite data info --data-dir ../shared/data
    ecomsuite data download                # the real datasets -> ~/.cache/ecomsuite/data
    ecomsuite tasks install                # make `lm_eval --tasks 'ecom_*'` work without --include_path
    ecomsuite tasks validate ~/my_tasks    # check a task folder: YAML, keys, hooks, one prompt per split
    ecomsuite eval --include-path ~/my_tasks --tasks my_task   # any command sees extra task folders
    ecomsuite sft RECIPE.yaml [key=value ...]
    ecomsuite merge --adapters A B --method ties --out DIR
    ecomsuite baseline ecom_esci --model PATH
    ecomsuite leaderboard build RESULTS_DIR --out SITE
    ecomsuite reproduce STUDY.yaml
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from ecomsuite import EcomError, __version__

INCLUDE_ENV = "ECOMSUITE_INCLUDE_PATH"   # read by ecomsuite.lmeval.include_paths

# subcommands implemented in their own modules: name -> (module, help)
EXTERNAL = {
    "sft": ("ecomsuite.trainers.sft", "fine-tune LoRA / QLoRA / full with TRL on the tasks' own prompts"),
    "merge": ("ecomsuite.trainers.merge", "merge LoRA adapters with PEFT"),
    "baseline": ("ecomsuite.trainers.baselines", "train and score encoder / seq2seq baselines"),
    "leaderboard": ("ecomsuite.leaderboard.build", "build the static leaderboard site from lm-eval results"),
    "reproduce": ("ecomsuite.reproduce", "run a whole study (plan, train, evaluate, rank), resumably"),
}


def _tasks_cmd(args) -> int:
    from ecomsuite import lmeval

    if args.action == "install":
        files = lmeval.install_tasks()
        print(f"wrote {len(files)} stub(s) to {files[0].parent} -> {lmeval.tasks_dir()}")
        print("now: lm_eval --tasks 'ecom_*' ...   (undo: ecomsuite tasks uninstall)")
    elif args.action == "uninstall":
        print(f"removed {lmeval.uninstall_tasks()} stub(s)")
    elif args.action == "path":
        print(lmeval.tasks_dir())
    elif args.action == "validate":
        n, problems = lmeval.validate_tasks(args.path, metadata={"data_dir": args.data_dir} if args.data_dir else None)
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{n} task(s) built and rendered under {args.path or lmeval.tasks_dir()}; {len(problems)} problem(s)")
        return 1 if problems else 0
    else:
        print(f"tasks folder: {lmeval.tasks_dir()}\nlm-eval registration: {lmeval.installed_status()}")
    return 0


def _data_cmd(args) -> int:
    from ecomsuite.data import info_table

    if args.action == "download":
        from ecomsuite.data import download

        return download.run(args)

    print(info_table(args.data_dir, locale=args.locale))
    return 0


def _eval_cmd(args) -> int:
    from ecomsuite.evaluate import run_eval

    return run_eval(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecomsuite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"ecomsuite {__version__}")
    p.add_argument("--include-path", metavar="DIR", action="append",
                   help="an extra folder of lm-eval task YAMLs, seen by every command (eval, sft, baseline, "
                        "reproduce, leaderboard); may repeat, and may come after the command; also "
                        "$ECOMSUITE_INCLUDE_PATH (os.pathsep-separated)")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    t = sub.add_parser("tasks", help="register the ecom tasks with lm-eval, or show where they are",
                       epilog="example: ecomsuite tasks install && lm_eval --tasks 'ecom_*' --model hf "
                              "--model_args pretrained=HuggingFaceTB/SmolLM2-135M-Instruct --limit 10")
    t.add_argument("action", choices=["install", "uninstall", "path", "status", "validate"], nargs="?",
                   default="status", help="validate [PATH]: check every task YAML under PATH (default: the "
                   "package's tasks) with lm-eval's loader, build each task and render one prompt per split; "
                   "exits 1 on any problem")
    t.add_argument("path", nargs="?", default=None, help="validate: a task folder (default: the package's tasks)")
    t.add_argument("--data-dir", default=None, help="validate: data root the tasks' folders resolve against")
    t.set_defaults(func=_tasks_cmd)

    d = sub.add_parser("data", help="inspect task data (info) or fetch the real datasets (download)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  ecomsuite data info --data-dir ../shared/data\n"
                              "  ecomsuite data download                # all -> ~/.cache/ecomsuite/data\n"
                              "  ecomsuite data download --tasks queryner review_summ --to ../data")
    d.add_argument("action", choices=["info", "download"])
    d.add_argument("--data-dir", default=None, help="folder with esci/, queryner/, fewsum_amazon/, ae110k/ "
                   "(default: $ECOMSUITE_DATA, else the download location if it holds data, else the "
                   "embedded sample)")
    d.add_argument("--to", default=None, metavar="DIR", help="download: target folder (default: $XDG_CACHE_HOME/ecomsuite/data, "
                   "i.e. ~/.cache/ecomsuite/data)")
    d.add_argument("--tasks", nargs="+", default=None, metavar="NAME",
                   help="download: datasets or tasks (esci, queryner, fewsum_amazon, ae110k, ecom_*); default all")
    d.add_argument("--mirror", default=None, metavar="URL", help="download: base URL of a mirror laid out as "
                   "URL/<owner>/<repo>/<path>, or hf://datasets/<owner>/<repo>[@<revision>]: a Hub dataset repo "
                   "holding that layout, at $HF_ENDPOINT (default https://huggingface.co; $HF_TOKEN or the saved `hf auth login` token for a private "
                   "one); checked against the same pinned checksums (default: $ECOMSUITE_DATA_MIRROR, else the "
                   "publishers)")
    d.add_argument("--locale", default="us", help="ESCI locale (us, es, jp, all)")
    d.set_defaults(func=_data_cmd)

    from ecomsuite.evaluate import add_eval_arguments

    e = sub.add_parser("eval", help="evaluate a model on the ecom tasks with lm-eval and print the table",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  ecomsuite eval                       # embedded SmolLM2, sample data\n"
                              "  ecomsuite eval --data-dir ../shared/data --limit 50 --tasks ecom_esci ecom_queryner\n"
                              "  ecomsuite eval --model-args pretrained=BASE,peft=ADAPTER --num-fewshot 3")
    add_eval_arguments(e)
    e.set_defaults(func=_eval_cmd)

    for name, (_mod, help_) in EXTERNAL.items():
        s = sub.add_parser(name, help=help_, add_help=False)
        s.set_defaults(external=name)
    return p


def pop_include_paths(argv: list[str]) -> tuple[list[str], list[str]]:
    """(argv without ``--include-path DIR`` / ``--include-path=DIR``, the DIRs), wherever they stand."""
    rest, paths, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--include-path":
            if i + 1 >= len(argv):
                raise EcomError("--include-path needs a folder")
            paths.append(argv[i + 1])
            i += 2
            continue
        if a.startswith("--include-path="):
            paths.append(a.split("=", 1)[1])
        else:
            rest.append(a)
        i += 1
    return rest, paths


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    saved = os.environ.get(INCLUDE_ENV)
    try:
        # one plumbing for every command: extra task folders go to $ECOMSUITE_INCLUDE_PATH, which
        # ecomsuite.lmeval.task_manager reads (and processes a study forks inherit)
        argv, paths = pop_include_paths(argv)
        if paths:
            from pathlib import Path

            missing = [p for p in paths if not Path(p).expanduser().is_dir()]
            if missing:
                raise EcomError(f"{missing[0]}: task folder not found (from --include-path)")
            os.environ[INCLUDE_ENV] = os.pathsep.join(
                [str(Path(p).expanduser().resolve()) for p in paths] + ([saved] if saved else []))
        if argv and argv[0] in EXTERNAL:
            mod = importlib.import_module(EXTERNAL[argv[0]][0])
            return int(mod.main(argv[1:]) or 0)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except EcomError as e:
        print(f"ecomsuite: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecomsuite: interrupted", file=sys.stderr)
        return 130
    finally:
        if saved is None:
            os.environ.pop(INCLUDE_ENV, None)
        else:
            os.environ[INCLUDE_ENV] = saved


if __name__ == "__main__":
    sys.exit(main())
