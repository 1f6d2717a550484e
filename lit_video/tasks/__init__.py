"""Tasks: what a model is trained and scored on. Each task names its LightningModule and its DataModule; its results
fields are declared in ``lit_video.results.schema`` (each field says which tasks fill it), and the report has a
section per task. A config names its task (``task:``, default ``classification``); the command line and the sweep
take the task's classes from here, never from a model's name.

``classification`` (trimmed clips -> one label or several) is the only task so far.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import lightning as L

from ..data import VideoDataModule
from .classification import VideoClassifier

DEFAULT_TASK = "classification"


@dataclass(frozen=True)
class Task:
    name: str
    module: type[L.LightningModule]  # the task's one LightningModule: any registry model by name
    datamodule: type[L.LightningDataModule]  # its data: readers, clips, built-in data
    description: str


TASKS = {task.name: task for task in (
    Task("classification", VideoClassifier, VideoDataModule,
         "trimmed clips -> one label (or several): clip- and video-level accuracy"),
)}


def get_task(name: str | None) -> Task:
    """The task called ``name`` (None: the default, classification); KeyError naming the tasks there are."""
    name = name or DEFAULT_TASK
    if name not in TASKS:
        close = difflib.get_close_matches(name, TASKS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"unknown task {name!r}.{hint} Tasks: {', '.join(TASKS)}")
    return TASKS[name]


__all__ = ["DEFAULT_TASK", "TASKS", "Task", "VideoClassifier", "get_task"]
