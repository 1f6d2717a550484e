"""VideoDataModule: properties at construction, clip defaults, batches and views, seeded determinism, bad
options, bad videos (skipped, warned once, listed; strict mode), failures inside workers, a real Trainer run."""

import os
import shutil
import warnings

import lightning as L
import pytest
import torch
from torch import nn

from lit_video.clip import DEFAULT_CLIP
from lit_video.data import VideoDataModule, dataset_label, eval_views
from lit_video.data.dataset import ClipDataset
from lit_video.data.skipped import SKIPPED_FILE


def test_properties_are_known_at_construction(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, size=32, num_workers=0)
    assert dm.num_classes == 4 and not dm.multi_label
    assert dm.class_names == ["solid", "horizontal_stripes", "move_left", "move_right"]
    assert dm.groups == {"appearance": [0, 1], "direction": [2, 3]}
    assert dm.dataset_name == "data" and len(dm.fingerprint) == 12
    assert dm.fingerprint == VideoDataModule(root=str(tiny_dataset), frames=8).fingerprint
    # The synthetic data has left / right direction classes: its classes.json forbids mirroring, unless overridden.
    assert dm.flip is False and VideoDataModule(root=str(tiny_dataset), flip=True).flip is True


def test_dataset_label_and_name():
    assert dataset_label(None, None) == "synthetic"
    assert dataset_label(None, "/data/ucf101/") == "ucf101"
    assert dataset_label(None, ".") == os.path.basename(os.getcwd())
    assert dataset_label("kinetics-mini", "/data/k400") == "kinetics-mini"


def test_name_labels_the_dataset_and_stays_out_of_the_hyperparameters(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), name="tiny", num_workers=0)
    # VideoClassifier's hyperparameter `name` is the model's: Lightning refuses two values under one key.
    assert dm.dataset_name == "tiny" and "name" not in dm.hparams and "name" not in dm.hparams_initial


def test_clip_defaults_are_filled_in_and_saved(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), num_workers=0)
    default = (DEFAULT_CLIP.frames, DEFAULT_CLIP.fps, DEFAULT_CLIP.size)  # the registry's default clip too
    assert (dm.frames, dm.fps, dm.size) == default
    for hparams in (dm.hparams, dm.hparams_initial):  # what loggers record: the numbers used, not None
        assert (hparams["frames"], hparams["fps"], hparams["size"]) == default
    given = VideoDataModule(root=str(tiny_dataset), frames=4, fps=10.0, size=32, num_workers=0)
    assert (given.frames, given.fps, given.size) == (4, 10.0, 32)
    assert (given.hparams["frames"], given.hparams["fps"], given.hparams["size"]) == (4, 10.0, 32)
    assert next(iter(given.val_dataloader()))["video"].shape[1:] == (3, 4, 32, 32)


def test_eval_views_are_what_the_test_loader_takes_per_video(tiny_dataset):
    assert eval_views(10, 3) == 30
    with pytest.raises(ValueError, match="test_clips and test_crops"):
        eval_views(0, 1)
    dm = VideoDataModule(root=str(tiny_dataset), frames=2, size=16, num_workers=0, test_clips=2, test_crops=3)
    assert dm.eval_views == 6 == dm.dataset("test").views
    batch = next(iter(dm.test_dataloader()))
    assert len(batch["label"]) == 6 and batch["video_index"].tolist() == [0] * 6  # batch 8: one video's 6 views


def test_dataset_sets_up_only_what_it_needs(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=2, size=16, num_workers=0)
    val = dm.dataset("val")
    assert isinstance(val, ClipDataset) and len(val) == 12 and set(dm.datasets) == {"val"}
    assert dm.dataset("val") is val
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        dm.dataset("validation")


def test_train_and_test_batches(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, fps=6.0, size=24, batch_size=5, num_workers=0,
                         test_clips=2, test_crops=3)
    batch = next(iter(dm.train_dataloader()))
    assert batch["video"].shape == (5, 3, 4, 24, 24) and batch["video"].dtype == torch.float32
    assert batch["label"].dtype == torch.long and batch["label"].shape == (5,)
    assert batch["video_index"].shape == (5,)
    test = dm.test_dataloader()
    assert len(test.dataset) == 12 and test.dataset.views == 2 * 3  # an item is a video with all its views
    indices = torch.cat([b["video_index"] for b in test])
    assert indices.tolist() == [v for v in range(12) for _ in range(6)]  # every view of every video, in order
    val = dm.val_dataloader()
    assert len(val.dataset) == 12  # validation: the centre clip of each video


@pytest.mark.parametrize("workers", [0, 1])
def test_same_seed_gives_the_same_clips(tiny_dataset, workers):
    def first_batches(seed):
        L.seed_everything(seed, workers=True)
        dm = VideoDataModule(root=str(tiny_dataset), frames=4, size=24, batch_size=4, num_workers=workers,
                             seed=seed)
        return [b["video"] for _, b in zip(range(2), dm.train_dataloader(), strict=False)]

    a, b, c = first_batches(1), first_batches(1), first_batches(2)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.parametrize("option,value,message", [
    ("frames", 0, "data.frames must be >= 1"), ("size", 4, "data.size must be >= 8"),
    ("format", "youtube", "data.format 'youtube'"), ("backend", "opencv", "data.backend 'opencv'"),
    ("test_crops", 2, "test_crops must be 1 or 3"), ("fps", 0, "data.fps must be > 0"),
    ("resize", 16, "data.resize"), ("root", "/nonexistent/videos", "is not a folder"),
    ("prefetch_factor", 0, "data.prefetch_factor must be >= 1"),
])
def test_bad_options_fail_at_construction(tiny_dataset, option, value, message):
    kwargs = {"root": str(tiny_dataset), "size": 32, option: value}
    with pytest.raises(ValueError, match=message):
        VideoDataModule(**kwargs)


def test_loader_options_reach_the_dataloaders(tiny_dataset):
    dm = VideoDataModule(root=str(tiny_dataset), frames=4, size=32, num_workers=1, prefetch_factor=3,
                         persistent_workers=False)
    for loader in (dm.train_dataloader(), dm.test_dataloader()):
        assert (loader.num_workers, loader.prefetch_factor, loader.persistent_workers) == (1, 3, False)
        assert not loader.pin_memory  # no Trainer on a GPU
    assert VideoDataModule(root=str(tiny_dataset), frames=4, size=32, pin_memory=True).val_dataloader().pin_memory
    in_process = VideoDataModule(root=str(tiny_dataset), frames=4, size=32, num_workers=0).train_dataloader()
    assert (in_process.prefetch_factor, in_process.persistent_workers) == (None, False)


def test_no_videos_found(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "train.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    with pytest.raises(ValueError, match="no videos found"):
        VideoDataModule(root=str(tmp_path))


@pytest.fixture
def bad_dataset(tiny_dataset, tmp_path):
    """The tiny dataset with one train video of each bad kind and a row with an unknown label."""
    root = shutil.copytree(tiny_dataset, tmp_path / "bad")
    videos = sorted((root / "train").rglob("*.mp4"))
    good = videos[0].read_bytes()
    videos[0].write_bytes(b"")                                  # zero bytes
    videos[1].write_text("not a video\n" * 20)                  # not a video
    videos[2].write_bytes(good[: len(good) // 2])               # truncated
    mdat, moov = good.find(b"mdat"), good.find(b"moov")         # corrupt coded frames, header intact
    videos[3].write_bytes(good[: mdat + 4] + bytes(moov - mdat - 8) + good[moov - 4:])
    videos[4].unlink()                                          # missing
    for split, video in (("train", videos[5]), ("val", videos[6])):  # rows whose file exists, label unknown
        video_id, start, end = video.stem.split("_")
        with open(root / "annotations" / f"{split}.csv", "a") as f:
            f.write(f"juggling,{video_id},{int(start)},{int(end)},{split}\n")
    return root, videos[:5]


def test_bad_videos_are_skipped_warned_once_and_listed(bad_dataset, tmp_path):
    root, bad = bad_dataset
    with pytest.warns(UserWarning) as caught:
        dm = VideoDataModule(root=str(root), frames=4, size=24, batch_size=4, num_workers=0,
                             log_dir=str(tmp_path / "logs"))
        dm.setup("fit")
    messages = [str(w.message) for w in caught if "skipping" in str(w.message)]
    assert len(messages) == len(dm.skipped) == 7  # 5 bad files + 2 rows with an unknown label
    for path in bad:
        assert sum(path.stem in m for m in messages) == 1
    assert any("unknown label 'juggling'" in m for m in messages)
    listed = (tmp_path / "logs" / SKIPPED_FILE).read_text().splitlines()
    assert len(listed) == 7 and all("\t" in line for line in listed)
    assert any("empty file" in line for line in listed) and any("no video file" in line for line in listed)
    assert len(dm.datasets["train"]) == 12 - 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing more to warn about while training
        assert sum(len(b["label"]) for b in dm.train_dataloader()) == 7


def test_strict_mode_raises_on_the_first_bad_input(bad_dataset, tiny_dataset):
    root, bad = bad_dataset
    with pytest.raises(ValueError, match="strict mode"):
        VideoDataModule(root=str(root), strict=True)
    # Only bad files left (rows and the missing file restored): construction passes, setup names the file.
    for name in ("train.csv", "val.csv"):
        shutil.copy(tiny_dataset / "annotations" / name, root / "annotations" / name)
    shutil.copy(tiny_dataset / bad[4].relative_to(root), bad[4])
    dm = VideoDataModule(root=str(root), strict=True, num_workers=0)
    with pytest.raises(ValueError, match=rf"bad input '.*{bad[0].name}': empty file"):
        dm.setup("fit")


@pytest.mark.parametrize("workers", [0, 1])
def test_video_that_fails_after_probing_is_dropped_from_its_batch(tiny_dataset, tmp_path, workers):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    dm = VideoDataModule(root=str(root), frames=4, size=24, batch_size=12, num_workers=workers,
                         log_dir=str(tmp_path / "logs"))
    dm.setup("validate")
    victim = dm.datasets["val"].videos[3][0].path
    victim.write_bytes(b"\x00" * 1000)  # damaged after setup probed it
    with warnings.catch_warnings(record=True):
        batches = list(dm.val_dataloader())
    assert [len(b["label"]) for b in batches] == [11]
    assert 3 not in batches[0]["video_index"].tolist()
    listed = (tmp_path / "logs" / SKIPPED_FILE).read_text()
    assert str(victim) in listed
    assert dm.skipped and dm.skipped[-1][0] == str(victim)
    dm.strict = True
    dm.datasets.clear()
    with pytest.raises(Exception, match="cannot read video"):
        list(dm.val_dataloader())


def test_skips_in_loader_workers_reach_the_datamodule_and_the_file_once(tiny_dataset, tmp_path):
    """Two worker processes read the test videos (a batch a video, dealt to both workers) and one video fails in
    a worker: the DataModule reports exactly that video, and the file lists it once."""
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    dm = VideoDataModule(root=str(root), frames=4, size=24, batch_size=2, num_workers=2, test_clips=2,
                         test_crops=3, log_dir=str(tmp_path / "logs"))
    dm.setup("test")  # every video probes fine
    assert dm.skipped == []
    victim = dm.datasets["test"].videos[5][0].path
    victim.write_bytes(b"\x00" * 1000)  # fails at decode time, in a worker
    with warnings.catch_warnings(record=True):
        clips = sum(len(b["label"]) for b in dm.test_dataloader())
    assert clips == 11 * 6
    assert [path for path, _ in dm.skipped] == [str(victim)]
    assert len(dm.skipped) == 1
    listed = (tmp_path / "logs" / SKIPPED_FILE).read_text().splitlines()
    assert [line.split("\t")[0] for line in listed] == [str(victim)]


def test_all_failed_batch_is_empty_not_an_error(tiny_dataset, tmp_path):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    dm = VideoDataModule(root=str(root), frames=4, size=24, batch_size=2, num_workers=0, log_dir=str(tmp_path))
    dm.setup("validate")
    for record, _ in dm.datasets["val"].videos[:2]:
        record.path.unlink()
    with warnings.catch_warnings(record=True):
        batch = next(iter(dm.val_dataloader()))
    assert batch["video"].shape == (0, 3, 4, 24, 24) and batch["label"].shape == (0,)


class _TinyClassifier(L.LightningModule):
    def __init__(self, num_classes: int):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    def training_step(self, batch, _):
        return nn.functional.cross_entropy(self.net(batch["video"]), batch["label"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


@pytest.mark.integration
def test_real_trainer_writes_skipped_list_in_its_log_dir(bad_dataset, tmp_path):
    root, _ = bad_dataset
    with warnings.catch_warnings(record=True):
        dm = VideoDataModule(root=str(root), frames=2, size=16, batch_size=4, num_workers=0)
        trainer = L.Trainer(max_epochs=1, accelerator="cpu", default_root_dir=tmp_path, enable_progress_bar=False,
                            enable_model_summary=False, limit_val_batches=0, enable_checkpointing=False)
        trainer.fit(_TinyClassifier(dm.num_classes), datamodule=dm)
    listed = (tmp_path / "lightning_logs" / "version_0" / SKIPPED_FILE).read_text().splitlines()
    assert len(listed) == 7


def test_decord_and_pyav_give_the_same_clips(tiny_dataset):
    batches = {backend: next(iter(VideoDataModule(root=str(tiny_dataset), frames=4, size=24, batch_size=12,
                                                  num_workers=0, backend=backend).val_dataloader()))
               for backend in ("decord", "pyav")}
    assert torch.equal(batches["decord"]["video_index"], batches["pyav"]["video_index"])
    assert (batches["decord"]["video"] - batches["pyav"]["video"]).abs().mean() < 0.05


def test_multi_label_batches(tiny_dataset, tmp_path):
    videos = sorted((tiny_dataset / "train").rglob("*.mp4"))
    (tmp_path / "labels.txt").write_text("a\nb\nc\n")
    lines = [f"{v.relative_to(tiny_dataset)} {i % 3},{(i + 1) % 3}" for i, v in enumerate(videos)]
    for name, part in (("train", lines[:6]), ("test", lines[6:])):
        (tmp_path / f"{name}_partition.txt").write_text("\n".join(part) + "\n")
    dm = VideoDataModule(root=str(tiny_dataset), annotations=str(tmp_path), format="sports1m", frames=2,
                         size=16, batch_size=6, num_workers=0, val_split="test")
    assert dm.multi_label and dm.num_classes == 3 and dm.groups == {}
    batch = next(iter(dm.val_dataloader()))
    assert batch["label"].dtype == torch.float32 and batch["label"].shape == (6, 3)
    assert batch["label"].sum(dim=1).tolist() == [2.0] * 6


# --------------------------------------------------------------------------------------------------- reliability
def test_an_empty_or_missing_split_fails_at_construction_unless_asked_for(tiny_dataset, tmp_path):
    """An empty test.csv once made the test split the validation videos without a word."""
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    test_csv = root / "annotations" / "test.csv"
    test_csv.write_text("label,youtube_id,time_start,time_end,split\n")  # header only
    with pytest.raises(ValueError, match=rf"^{test_csv}: the test split is empty: it lists no videos; "
                                         "set data.test_split=val to test on the validation videos"):
        VideoDataModule(root=str(root), num_workers=0)
    test_csv.unlink()
    with pytest.raises(ValueError, match=rf"^{test_csv}: no test split: the file is missing"):
        VideoDataModule(root=str(root), num_workers=0)
    dm = VideoDataModule(root=str(root), num_workers=0, test_split="val")
    assert dm.info.splits["test"] == dm.info.splits["val"] and len(dm.info.splits["test"]) == 12
    assert dm.hparams["test_split"] == "val"  # recorded with the run's configuration
    # A split whose rows all point at missing videos is empty too, and says so.
    val_csv = root / "annotations" / "val.csv"
    val_csv.write_text(val_csv.read_text().replace(",val0", ",gone0"))  # video ids val0...
    with pytest.warns(UserWarning, match="no video file"), pytest.raises(
            ValueError, match=rf"^{val_csv}: the val split is empty: none of the 12 videos it lists is usable"):
        VideoDataModule(root=str(root), num_workers=0, test_split="val")
    with pytest.raises(ValueError, match="data.test_split 'dev' is not one of train, val, test"):
        VideoDataModule(root=str(root), test_split="dev")


def test_a_video_in_two_splits_is_warned_about(tiny_dataset, tmp_path):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    train_row = (root / "annotations" / "train.csv").read_text().splitlines()[1]
    with open(root / "annotations" / "test.csv", "a") as f:
        f.write(train_row.rsplit(",", 1)[0] + ",test\n")
    with pytest.warns(UserWarning, match="the same video is listed in train and test") as caught:
        dm = VideoDataModule(root=str(root), num_workers=0)
    assert len(caught) == 1 and len(dm.info.splits["test"]) == 13


def test_fingerprint_and_skips_of_file_names_that_are_not_utf8(indexed_videos, tmp_path):
    """UCF folders whose last video (by name: the test video) is named with a byte that is not UTF-8; one of
    the two cannot be decoded and is skipped, listed under its name."""
    root = tmp_path / "ucf"
    odd = {}
    for cls in ("Archery", "Bowling"):
        for g in range(1, 5):
            shutil.copyfile(indexed_videos["avi"], _mkdir(root / cls) / f"v_{cls}_g{g:02d}.avi")
        odd[cls] = root / cls / os.fsdecode(b"v_\xff_" + cls.encode() + b".avi")
        shutil.copyfile(indexed_videos["avi"], odd[cls])
    odd["Bowling"].write_bytes(b"\x00" * 1000)
    with warnings.catch_warnings(record=True):
        dm = VideoDataModule(root=str(root), format="folder", frames=2, size=16, num_workers=0,
                             log_dir=str(tmp_path / "logs"))
        assert [r.path for r in dm.info.splits["test"]] == [odd["Archery"], odd["Bowling"]]
        assert len(dm.fingerprint) == 12
        assert dm.fingerprint == VideoDataModule(root=str(root), format="folder").fingerprint
        batch = next(iter(dm.test_dataloader()))
    assert batch["video_index"].unique().tolist() == [0]
    assert [path for path, _ in dm.skipped] == [str(odd["Bowling"])]
    assert os.fsencode(odd["Bowling"]) in (tmp_path / "logs" / SKIPPED_FILE).read_bytes()


def _mkdir(folder):
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_backend_does_not_reuse_the_probe_failures_of_another(bad_dataset, tmp_path):
    root, bad = bad_dataset
    reasons = {}
    for backend in ("decord", "pyav"):
        with warnings.catch_warnings(record=True):
            dm = VideoDataModule(root=str(root), backend=backend, num_workers=0, log_dir=str(tmp_path / backend))
            dm.setup("fit")
        reasons[backend] = dict(dm.skipped)[str(bad[1])]  # not a video: every backend fails, each its own way
    assert reasons["decord"].startswith("decord: ") and "pyav: " in reasons["decord"]
    assert reasons["pyav"].startswith("pyav: ") and "decord" not in reasons["pyav"]


def test_backend_auto_decodes_with_a_backend_this_machine_runs_and_keeps_auto_in_the_config(tiny_dataset):
    from lit_video.data.decode import AUTO_ORDER, resolve_backend

    data = VideoDataModule(root=str(tiny_dataset), frames=4, size=32, batch_size=2, num_workers=0, backend="auto")
    assert data.backend == resolve_backend("auto") and data.backend in AUTO_ORDER
    assert data.hparams.backend == "auto"  # the config as given; the machine decides what it means
    data.setup("fit")
    assert next(iter(data.train_dataloader()))["video"].shape == (2, 3, 4, 32, 32)
