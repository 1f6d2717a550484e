"""Tasks: the registry, how a config names its task (the command line reads it before building its parser), and a
model refused by a config of another task before anything is built."""

from __future__ import annotations

import pytest
from torch import nn

from lit_video.models import ModelInfo, registry
from lit_video.tasks import TASKS, VideoClassifier, get_task
from lit_video.train import ConfigError, resolve_config, task_of


def test_the_registry_names_each_tasks_module_and_data():
    task = get_task(None)
    assert task.name == "classification" and task.module is VideoClassifier
    assert task.datamodule.__name__ == "VideoDataModule" and set(TASKS) == {"classification"}
    with pytest.raises(KeyError, match="unknown task 'clasification'. Did you mean 'classification'"):
        get_task("clasification")


def test_a_command_line_names_its_task_by_option_or_config(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("task: localization\nmodel: {name: c3d}\n")
    assert task_of(["--model.name", "c3d"]) == "classification"
    assert task_of(["--config", str(config)]) == "localization"
    assert task_of([f"--config={config}", "--task", "detection"]) == "detection"  # the option wins
    assert task_of(["--task=detection"]) == "detection"


def test_a_model_of_another_task_is_refused_before_anything_is_built(monkeypatch):
    info = ModelInfo("tiny_localizer", family="localization_head", task="localization")
    monkeypatch.setitem(registry._INFO, info.name, info)
    monkeypatch.setitem(registry._BUILDERS, info.name, lambda num_classes: nn.Identity())
    with pytest.raises(ConfigError, match="'tiny_localizer' is a localization model; this config's task is "
                                          "classification"):
        resolve_config({"model": {"name": "tiny_localizer"}})
    with pytest.raises(ConfigError, match="unknown task 'segmentation'"):
        resolve_config({"task": "segmentation", "model": {"name": "c3d"}})
