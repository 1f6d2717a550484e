"""VideoClassifier: video-level aggregation, metrics, schedule and early failures (no data files needed)."""

import math

import pytest
import torch

from lit_video.models import PREDICTION
from lit_video.tasks.classification import VideoClassifier, VideoScores, hit_at_k, warmup_cosine


def test_video_scores_average_views_per_video():
    scores = VideoScores(num_classes=2)
    # Two views of video 7 and one of video 2, delivered out of order across two batches.
    scores.update(torch.tensor([7, 2]), torch.tensor([[0.8, 0.2], [0.1, 0.9]]), torch.tensor([0, 1]))
    scores.update(torch.tensor([7]), torch.tensor([[0.2, 0.8]]), torch.tensor([0]))
    videos, probs, labels = scores.compute()
    torch.testing.assert_close(probs, torch.tensor([[0.1, 0.9], [0.5, 0.5]]))  # ordered by index: 2, then 7
    assert labels.tolist() == [1, 0] and videos.tolist() == [2, 7]


def test_video_scores_average_a_videos_views_scored_in_different_processes():
    """What DDP's gathering does (each process's states concatenated), done by torchmetrics' merge_state: video 7's
    views scored in two processes are averaged together; a process that scored nothing adds nothing."""
    here, there, idle = VideoScores(num_classes=2), VideoScores(num_classes=2), VideoScores(num_classes=2)
    here.update(torch.tensor([7, 2]), torch.tensor([[0.8, 0.2], [0.1, 0.9]]), torch.tensor([0, 1]))
    there.update(torch.tensor([7]), torch.tensor([[0.2, 0.8]]), torch.tensor([0]))
    assert idle.empty and not here.empty
    here.merge_state(there)
    here.merge_state(idle)
    videos, probs, labels = here.compute()
    torch.testing.assert_close(probs, torch.tensor([[0.1, 0.9], [0.5, 0.5]]))
    assert labels.tolist() == [1, 0] and videos.tolist() == [2, 7]


def test_hit_at_k_counts_any_true_label_in_top_k():
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    multi_hot = torch.tensor([[0, 1, 1], [0, 0, 1]])
    assert hit_at_k(probs, multi_hot, 1).item() == pytest.approx(0.5)  # video 0's top-1 (class 0) is wrong
    assert hit_at_k(probs, multi_hot, 2).item() == pytest.approx(1.0)


def _step(module: VideoClassifier, stage: str, logits: torch.Tensor, labels: torch.Tensor, index: torch.Tensor):
    module.clip_metrics[stage].update(logits, labels)
    module.video_scores[stage][PREDICTION].update(index, logits.softmax(-1), labels)
    module.eval_loss[stage].update(torch.nn.functional.cross_entropy(logits, labels), len(labels))


def test_video_level_metrics_and_group_accuracy():
    module = VideoClassifier("single_frame", num_classes=3, frames=2, size=32,
                             model_args={"backbone": "resnet18"}, groups={"appearance": [0, 1], "motion": [2]})
    logged = {}
    module.log_dict = lambda metrics, **_: logged.update({k: float(v) for k, v in metrics.items()})
    # Video 0 (class 0): one wrong view and two right ones -> right after averaging. Video 1 (class 2): wrong.
    logits = torch.tensor([[0.0, 3.0, 0.0], [4.0, 0.0, 0.0], [4.0, 0.0, 0.0], [5.0, 0.0, 0.0]])
    _step(module, "test", logits, torch.tensor([0, 0, 0, 2]), torch.tensor([0, 0, 0, 1]))
    module._epoch_metrics("test")
    assert logged["test/clip_top1"] == pytest.approx(0.5)  # views 1, 2 of video 0 right; 0 and video 1's wrong
    assert logged["test/video_top1"] == pytest.approx(0.5)
    assert logged["test/mean_class_acc"] == pytest.approx(0.5)  # classes 0 (right) and 2 (wrong) present
    assert logged["test/group_acc/appearance"] == pytest.approx(1.0)
    assert logged["test/group_acc/motion"] == pytest.approx(0.0)
    assert logged["test/video_top5"] == pytest.approx(1.0)  # top-5 of 3 classes always hits
    assert module.video_scores["test"][PREDICTION].empty  # reset for the next epoch
    logged.clear()
    module._epoch_metrics("test")  # an epoch that scored nothing logs nothing
    assert logged == {}


def test_cosine_schedule_with_warmup():
    lr_at = [warmup_cosine(step, total=100, warmup=10, floor=0.0) for step in (0, 9, 10, 55, 100)]
    assert lr_at[0] == pytest.approx(1 / 11)  # linear warm-up over the first 10 steps
    assert lr_at[1] == pytest.approx(10 / 11)
    assert lr_at[2] == pytest.approx(1.0)
    assert lr_at[3] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_at[4] == pytest.approx(0.0, abs=1e-9)
    assert warmup_cosine(100, total=100, warmup=10, floor=0.01) == pytest.approx(0.01)


def test_nan_loss_fails_loudly():
    module = VideoClassifier("single_frame", num_classes=2, frames=2, size=32)
    module.log = lambda *a, **k: None
    with torch.no_grad():
        module.model.get_classifier().bias.fill_(float("nan"))
    batch = {"video": torch.randn(2, 3, 2, 32, 32), "label": torch.tensor([0, 1]), "video_index": torch.arange(2)}
    with pytest.raises(FloatingPointError, match="training loss is nan"):
        module.training_step(batch, 0)


def test_unknown_model_lists_close_names():
    with pytest.raises(KeyError, match="single_frame"):
        VideoClassifier("single_fram", num_classes=2)


def test_clip_shape_checked_before_training():
    """A model that cannot take the data's clip fails when the module is built, saying which clips it takes (the CLI
    adds which options to change: tests/test_cli.py)."""
    VideoClassifier("lecture_3d_cnn", num_classes=2, frames=4, size=32)  # pool1 (4x4x4) keeps one cell: fine
    with pytest.raises(ValueError, match=r"'lecture_3d_cnn' takes clips of at least 4 frames.*not 2 frames at 32x32"):
        VideoClassifier("lecture_3d_cnn", num_classes=2, frames=2, size=32)  # pool1 has nothing to pool
    with pytest.raises(ValueError, match=r"'mvit_v1_b' takes only clips of 16 frames at 224x224 px"):
        VideoClassifier("mvit_v1_b", num_classes=2, frames=8, size=224)
    module = VideoClassifier("c3d", num_classes=2)  # no clip: the model's own
    assert (module.hparams.frames, module.hparams.size) == (16, 112)


def test_empty_batch_is_skipped():
    """Collate drops videos that fail to decode in a worker; a batch can end up empty and must not crash."""
    module = VideoClassifier("single_frame", num_classes=2, frames=2, size=32)
    empty = {"video": torch.empty(0, 3, 2, 32, 32), "label": torch.empty(0, dtype=torch.long),
             "video_index": torch.empty(0, dtype=torch.long)}
    assert module.training_step(empty, 0) is None
    module.test_step(empty, 0)
    assert module.video_scores["test"][PREDICTION].empty
