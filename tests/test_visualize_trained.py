"""What the visualisations show, measured on a model trained on the built-in data (slow: about two minutes, most of
it making the data and training slow_fusion, the lecture's 3D CNN, for 8 epochs as the main job does).

Thresholds: a motion-direction class's optimised clip must move within 45 degrees of the class's direction (cosine
above cos 45 = 0.707: closer to its own direction than to any of the other three classes'); an appearance class's
temporal mean must carry its stripes (the energy of intensity change across the stripes at least twice that along
them; a pattern without orientation gives 1); the saliency peak of an order-class video must fall on one of the two
frames around a brightness snap in at least 3 videos of 4 (a frame drawn at random: 2 in 8, or 4 in 8 where a clip
has two snaps; 32 % over the main job's test videos, results/machine/visualize_checks.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lit_video.cli import main
from lit_video.data.synthetic import DIRECTIONS, write_synthetic_dataset
from lit_video.visualize import load_trained_model
from lit_video.visualize.checks import brightness_snaps, direction_cosine, stripe_ratio
from lit_video.visualize.class_model import ClassModelSettings, class_model, motion_energy
from lit_video.visualize.saliency import saliency

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def built_in(tmp_path_factory) -> Path:
    """The built-in data's appearance, direction and order groups (10 classes, 48 training videos each)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("built_in") / "data",
                                   groups=("appearance", "direction", "order"))


@pytest.fixture(scope="module")
def trained(built_in, tmp_path_factory):
    """slow_fusion trained as the main job trains it (8 frames at 8 fps, 32 px, 8 epochs), through lit-video fit."""
    folder = tmp_path_factory.mktemp("fit")
    assert main(["fit", "--model.name", "slow_fusion", "--model.model_args", '{"width": 8}', "--data.root",
                 str(built_in), "--data.frames", "8", "--data.fps", "8", "--data.size", "32", "--data.resize", "32",
                 "--data.batch_size", "16", "--data.num_workers", "0", "--data.cache_frames", "true",
                 "--trainer.max_epochs", "8", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                 "--trainer.default_root_dir", str(folder), "--seed_everything", "0"]) == 0
    return load_trained_model(next(folder.rglob("*.ckpt")))


@pytest.mark.parametrize("name", list(DIRECTIONS))
def test_a_direction_class_model_moves_the_class_s_way(trained, name):
    clip = class_model(trained, trained.class_index(name), ClassModelSettings(temporal=1.0))["rgb"]
    cosine = direction_cosine(clip, DIRECTIONS[name])
    assert cosine > np.cos(np.pi / 4), (name, cosine)


def test_an_appearance_class_model_carries_the_class_s_stripes(trained):
    settings = ClassModelSettings(temporal=1.0)
    ratio = {name: stripe_ratio(class_model(trained, trained.class_index(name), settings)["rgb"])
             for name in ("horizontal_stripes", "vertical_stripes")}
    assert ratio["horizontal_stripes"] > 2 and ratio["vertical_stripes"] < 1 / 2, ratio


def test_raising_the_temporal_penalty_lowers_the_motion_energy_of_a_trained_model_s_class_model(trained):
    target = trained.class_index("move_right")
    energies = [motion_energy(class_model(trained, target, ClassModelSettings(temporal=w))["rgb"])
                for w in (0.0, 1.0, 10.0, 100.0)]
    assert energies == sorted(energies, reverse=True) and energies[0] > 5 * energies[-1], energies


def test_saliency_of_an_order_video_peaks_at_the_brightness_snap(trained, built_in):
    hits = []
    for label in ("sawtooth_up", "sawtooth_down"):
        for video in sorted((built_in / "test" / label).glob("*.mp4")):
            result = saliency(trained, video, trained.class_index(label))
            hits.append(int(result.per_frame.argmax()) in brightness_snaps(result.frames))
    assert np.mean(hits) >= 0.75, hits
