"""The public Python API: what ``from lit_video import ...`` gives, and the README's Python example, run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lit_video
from lit_video.data.synthetic import VERSION

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_package_exports_the_registry_the_counter_the_module_and_the_data():
    from lit_video import VideoClassifier, VideoDataModule, count_flops, create_model, list_models, model_info
    from lit_video.models import registry
    from lit_video.profiling import counting
    from lit_video.tasks import classification

    assert set(lit_video.__all__) == {"VideoClassifier", "VideoDataModule", "__version__", "count_flops",
                                      "create_model", "list_models", "model_info"}
    assert (create_model, list_models, model_info) == (registry.create_model, registry.list_models,
                                                      registry.model_info)
    assert count_flops is counting.count_flops and VideoClassifier is classification.VideoClassifier
    assert VideoDataModule.__module__ == "lit_video.data.datamodule"


def readme_example() -> str:
    """The README's one Python block (under "## Python")."""
    section = README.read_text().split("\n## Python\n", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)
    return code


@pytest.mark.integration
def test_the_readme_example_runs_as_written(tiny_dataset, tmp_path):
    """The example as printed, in a fresh interpreter; the tiny dataset stands in for the built-in one (it is where
    the built-in data would be written, so nothing is generated)."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f"synthetic-v{VERSION}").symlink_to(tiny_dataset)
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    env = {**os.environ, "LIT_VIDEO_CACHE": str(cache)}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("['vivit_")
    assert re.fullmatch(r"\d+\.\d{4} GMACs \(\d+\.\d{4} GFLOPs\) a clip, [\d,]+ parameters", lines[1])
    assert re.fullmatch(r"\{'test/video_top1': [01]\.\d+\}", lines[-1])
