"""DDP through the `lit-video` command (two CPU processes, gloo): evaluation scores every view of every video exactly
once, so the test metrics are a single process's on the same checkpoint, to the bit."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_video.data.synthetic import write_synthetic_dataset

pytestmark = pytest.mark.integration  # DDP: three lit-video processes, one of them two

MODEL = ["--model.name", "single_frame", "--model.model_args", '{"backbone": "shufflenet_v2_x0_5"}']
# Two clips a video and batches of 4 clips: 2 videos a batch, so the processes' shares end in a part batch.
DATA = ["--data.frames", "4", "--data.size", "32", "--data.batch_size", "4", "--data.num_workers", "0",
        "--data.test_clips", "2"]
DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]
QUIET = ["--trainer.enable_progress_bar", "false", "--seed_everything", "0"]


@pytest.fixture(scope="module")
def odd_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 classes x 3 test videos: 9, which two processes cannot share evenly (5 and 4)."""
    return write_synthetic_dataset(tmp_path_factory.mktemp("odd") / "data", groups=("appearance",),
                                   classes_per_group=3, videos_per_class=3, eval_videos_per_class=3, frames=16,
                                   size=32, seed=1)


def lit_video(*args: str, cwd: Path) -> str:
    """``lit-video ARGS`` in a process of its own, as a user runs it: DDP starts the second process by running the
    same command again."""
    done = subprocess.run([sys.executable, "-m", "lit_video.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout + done.stderr


def logged_test_metrics(run_dir: Path) -> dict[str, float]:
    """The test metrics a run logged (its CSV log)."""
    with open(run_dir / "lit_video" / "version_0" / "metrics.csv") as f:
        return {k: float(v) for row in csv.DictReader(f) for k, v in row.items() if v and k.startswith("test/")}


def test_ddp_evaluation_equals_one_process_on_the_same_checkpoint(odd_dataset, tmp_path):
    data = ["--data.root", str(odd_dataset), *DATA]
    lit_video("fit", *MODEL, *data, *DDP, *QUIET, "--trainer.max_epochs", "2", "--trainer.default_root_dir", "fit",
              cwd=tmp_path)
    checkpoint = next((tmp_path / "fit" / "lit_video" / "version_0" / "checkpoints").glob("*.ckpt"))
    log = lit_video("test", *MODEL, *data, *DDP, *QUIET, "--ckpt_path", str(checkpoint),
                    "--trainer.default_root_dir", "ddp", cwd=tmp_path)
    assert "MEMBER: 2/2" in log  # Lightning's second process joined
    lit_video("test", *MODEL, *data, *QUIET, "--trainer.accelerator", "cpu", "--trainer.devices", "1",
              "--ckpt_path", str(checkpoint), "--trainer.default_root_dir", "one", cwd=tmp_path)
    ddp, one = logged_test_metrics(tmp_path / "ddp"), logged_test_metrics(tmp_path / "one")
    exact = ["test/clip_top1", "test/clip_top5", "test/video_top1", "test/video_top5", "test/mean_class_acc",
             "test/group_acc/appearance"]
    assert {name: ddp[name] for name in exact} == {name: one[name] for name in exact}
    # The loss is summed in another order across the processes: equal to float rounding.
    assert ddp["test/loss"] == pytest.approx(one["test/loss"], rel=1e-5)
