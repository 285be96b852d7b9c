"""Training examples rendered through lm-eval's own task objects, so a model is trained on exactly
the strings it is evaluated on (prompts are written once, in tasks/).

    from ecomsuite.prompts import load_tasks, render_examples
    tasks = load_tasks(["ecom_esci"], metadata={"data_dir": "../shared/data"})
    rows = render_examples(tasks["ecom_esci"], split="train")     # [{"prompt", "completion", "id", ...}]

``prompt`` is the context lm-eval builds for that document (zero-shot; with ``chat_template`` set,
the same chat-formatted string lm-eval's ``--apply_chat_template`` builds); ``completion`` is what
lm-eval would score or expect after it: ``target_delimiter + target`` (multiple choice: the gold
choice; in chat mode lm-eval drops the delimiter, and so do we). The EOS token is appended by the
trainer, not here.
"""
from __future__ import annotations

from typing import Callable, Iterable

from ecomsuite import EcomError


def load_tasks(names: Iterable[str], metadata: dict | None = None) -> dict:
    """name -> lm-eval task object (data downloaded), for the ecom tasks and those of every extra task
    folder ($ECOMSUITE_INCLUDE_PATH / ``ecomsuite --include-path``)."""
    from ecomsuite.lmeval import task_manager

    from ecomsuite.evaluate import unknown_task_error
    from ecomsuite.lmeval import check_tasks

    names = list(names)
    tm = task_manager(metadata=metadata)
    unknown = [n for n in names if n not in tm.all_tasks]
    if unknown:
        raise unknown_task_error(unknown[0], tm)
    check_tasks(tm, names)
    loaded = tm.load(names)["tasks"]
    return {n: loaded[n] for n in names}


def chat_renderer(tokenizer) -> Callable[..., str]:
    """The same callable lm-eval's HFLM passes as ``chat_template`` (see HFLM.apply_chat_template)."""
    if not getattr(tokenizer, "chat_template", None):
        raise EcomError(f"tokenizer {getattr(tokenizer, 'name_or_path', '?')} has no chat template; "
                        "train without chat_template mode, or pass a tokenizer that has one")

    def render(chat_history, add_generation_prompt: bool = True) -> str:
        return tokenizer.apply_chat_template(chat_history, tokenize=False,
                                             add_generation_prompt=add_generation_prompt,
                                             continue_final_message=not add_generation_prompt)
    return render


def split_docs(task, split: str) -> list[dict]:
    cfg = task.config
    name = {"train": cfg.training_split, "validation": cfg.validation_split, "test": cfg.test_split}.get(split, split)
    if not name or name not in task.dataset:
        raise EcomError(f"{cfg.task}: no {split!r} split (has: {', '.join(task.dataset.keys())})")
    docs = task.dataset[name]
    if cfg.process_docs is not None:
        docs = cfg.process_docs(docs)
    return list(docs)


def target_text(task, doc) -> str:
    target = task.doc_to_target(doc)
    if task.OUTPUT_TYPE == "multiple_choice":
        choices = task.doc_to_choice(doc)
        target = choices[target] if isinstance(target, int) else target
    if isinstance(target, list):  # several acceptable targets: train on the first
        target = target[0]
    return str(target)


def render_example(task, doc, chat_template: Callable | None = None) -> dict:
    chat = chat_template is not None
    # gen_prefix as lm-eval's build_all_requests passes it (ESCI's "Relevance:" answer cue)
    prompt = task.fewshot_context(doc, 0, apply_chat_template=chat, chat_template=chat_template,
                                  gen_prefix=task.doc_to_prefix(doc))
    delim = task.config.target_delimiter
    if chat and not (task.config.gen_prefix and not task.config.gen_prefix[-1:].isspace()):
        delim = ""
    return {"prompt": prompt, "completion": delim + target_text(task, doc)}


def render_examples(task, split: str = "train", docs: list[dict] | None = None,
                    chat_template: Callable | None = None) -> list[dict]:
    """Prompt/completion pairs of a split (or of the given docs), with the doc id and task name."""
    docs = split_docs(task, split) if docs is None else docs
    out = []
    for doc in docs:
        ex = render_example(task, doc, chat_template)
        ex.update(id=doc.get("id"), task=task.config.task)
        out.append(ex)
    return out
