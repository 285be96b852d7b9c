"""Where a page or data file lives in the site (site-relative paths; file names are slugs)."""

from __future__ import annotations

from .systems import slug


def task_slug(task: str) -> str:
    return slug(task, "task:" + task)


def task_file(task: str) -> str:
    return f"tasks/{task_slug(task)}.html"


def system_file(system_id: str) -> str:
    return f"systems/{system_id}.html"


def data_file(task: str, system_id: str) -> str:
    """A system's per-sample viewer data for a task."""
    return f"data/{task_slug(task)}/{system_id}.js"


def docs_file(task: str) -> str:
    """A task's shared prompts/references (system ids never start with _)."""
    return f"data/{task_slug(task)}/_docs.js"
