"""``VideoDataModule``: any supported dataset (or the built-in synthetic one) as train / val / test loaders."""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader

from .annotations import FORMATS, SPLITS, read_annotations
from .dataset import ClipDataset
from .decode import BACKENDS, VideoProbe, VideoReadError, probe_videos
from .synthetic import builtin_dataset, cache_dir
from .transforms import ClipTransform

SKIPPED_FILE = "skipped_videos.txt"


class VideoDataModule(L.LightningDataModule):
    """Clips of ``frames`` frames at ``fps`` frames per second, cropped to ``size`` px, from ``root``.

    ``root=None`` is the built-in synthetic dataset (written on first use to ``$LIT_VIDEO_CACHE``). The
    annotations are read here, so ``num_classes``, ``multi_label``, ``class_names`` and ``groups`` are known
    right away; videos are probed in ``setup`` (once: the probes are cached). Training draws one random clip
    per video (random crop; horizontal flip unless ``flip=False`` or the dataset's ``classes.json`` forbids it),
    validation takes the centre clip, test takes ``test_clips`` clips x ``test_crops`` crops.
    Videos that cannot be read are skipped with one warning each and listed in ``skipped`` and in
    ``skipped_videos.txt`` in the log folder (``log_dir``, else the trainer's, else the working directory);
    ``strict=True`` raises on the first one instead.
    """

    def __init__(self, root: str | None = None, format: str = "auto", annotations: str | None = None,
                 frames: int = 8, fps: float = 5.0, size: int = 64, resize: int | None = None,
                 batch_size: int = 8, num_workers: int = 2, test_clips: int = 4, test_crops: int = 1,
                 backend: str = "decord", strict: bool = False, seed: int = 0, log_dir: str | None = None,
                 flip: bool | None = None):
        super().__init__()
        self.save_hyperparameters()
        _check_options(format, frames, fps, size, resize, batch_size, num_workers, test_clips, test_crops, backend)
        self.root = Path(root) if root is not None else builtin_dataset()
        self.frames, self.fps, self.size, self.resize = frames, fps, size, resize
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.test_clips, self.test_crops = test_clips, test_crops
        self.backend, self.strict, self.log_dir = backend, strict, log_dir
        self.info = read_annotations(self.root, format, annotations)
        # Mirror training clips unless the dataset says a mirrored video is another class (classes.json).
        self.flip = self.info.horizontal_flip if flip is None else flip
        if not any(self.info.splits.values()):
            reasons = "; ".join(f"{what}: {why}" for what, why in self.info.skipped[:3])
            raise ValueError(f"no videos found in {str(self.root)!r} (format {self.info.format!r})"
                             + (f"; e.g. {reasons}" if reasons else "")
                             + ": check data.root, data.format and data.annotations")
        self.skipped: list[tuple[str, str]] = []
        for what, why in self.info.skipped:
            self._skip(what, why)
        self._probes: dict[Path, VideoProbe | VideoReadError] | None = None
        self.datasets: dict[str, ClipDataset] = {}

    # -- what the model and the metrics need to know, before setup ------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.info.class_names)

    @property
    def multi_label(self) -> bool:
        return self.info.multi_label

    @property
    def class_names(self) -> list[str]:
        return list(self.info.class_names)

    @property
    def groups(self) -> dict[str, list[int]]:
        return {name: list(members) for name, members in self.info.groups.items()}

    @property
    def dataset_name(self) -> str:
        return "synthetic" if self.hparams.root is None else self.root.name

    @property
    def fingerprint(self) -> str:
        """A short hash of the classes and of every split's videos and labels: same data, same fingerprint."""
        digest = hashlib.sha1(repr(self.info.class_names).encode())
        for split in SPLITS:
            for record in self.info.splits[split]:
                digest.update(f"{split}|{record.path.relative_to(self.root)}|{record.labels}|{record.segment}".encode())
        return digest.hexdigest()[:12]

    # -- bad videos ----------------------------------------------------------------------------------------
    @property
    def skipped_file(self) -> Path:
        if self.log_dir is not None:
            folder = Path(self.log_dir)
        elif self.trainer is not None and self.trainer.log_dir is not None:
            folder = Path(self.trainer.log_dir)
        else:
            folder = Path.cwd()
        return folder / SKIPPED_FILE

    def _skip(self, what: str, why: str) -> None:
        if self.strict:
            raise ValueError(f"bad input {what!r}: {why} (strict mode; set data.strict=false to skip it)")
        self.skipped.append((what, why))
        warnings.warn(f"skipping {what!r}: {why}", stacklevel=3)

    # -- Lightning hooks -------------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self._probes is None:
            cache = cache_dir() / "probes" / f"{hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:16]}.json"
            self._probes = probe_videos(self.info.videos(), self.backend, cache)
            for err in self._probes.values():
                if isinstance(err, VideoReadError):
                    self._skip(err.path, err.reason)
            if self.skipped:
                self.skipped_file.parent.mkdir(parents=True, exist_ok=True)
                self.skipped_file.write_text("".join(f"{what}\t{why}\n" for what, why in self.skipped))
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), None: SPLITS}.get(stage, ())
        for split in wanted:
            videos = [(r, self._probes[r.path]) for r in self.info.splits[split]
                      if isinstance(self._probes[r.path], VideoProbe)]
            if not videos:
                raise ValueError(f"the {split} split of {str(self.root)!r} has no readable videos "
                                 f"({len(self.skipped)} skipped; see {self.skipped_file})")
            train = split == "train"
            self.datasets[split] = ClipDataset(
                videos, self.num_classes, self.multi_label, self.frames, self.fps,
                ClipTransform(self.size, self.resize, train=train, flip=self.flip),
                clips=self.test_clips if split == "test" else 1, crops=self.test_crops if split == "test" else 1,
                backend=self.backend, strict=self.strict, skip_file=self.skipped_file, skipped=self.skipped)

    def _loader(self, split: str) -> DataLoader:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate", "test": "test"}[split])
        dataset = self.datasets[split]
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=split == "train", num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0, collate_fn=dataset.collate,
            # The generator fixes the shuffle and each worker's base seed; the init function seeds the
            # worker's torch / numpy / random from it, so one seed gives the same clips and crops every run.
            worker_init_fn=pl_worker_init_function, generator=torch.Generator().manual_seed(self.seed))

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def _check_options(format: str, frames: int, fps: float, size: int, resize: int | None, batch_size: int,
                   num_workers: int, test_clips: int, test_crops: int, backend: str) -> None:
    """Bad options fail here, at construction, with the option to change."""
    problems = []
    if format not in FORMATS:
        problems.append(f"data.format {format!r} is not one of {', '.join(FORMATS)}")
    if backend not in BACKENDS:
        problems.append(f"data.backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if frames < 1:
        problems.append(f"data.frames must be >= 1 (got {frames})")
    if fps <= 0:
        problems.append(f"data.fps must be > 0 frames per second (got {fps})")
    if size < 8:
        problems.append(f"data.size must be >= 8 px (got {size})")
    if resize is not None and resize < size:
        problems.append(f"data.resize ({resize}) must be >= data.size ({size}): the crop is taken after resizing")
    if batch_size < 1:
        problems.append(f"data.batch_size must be >= 1 (got {batch_size})")
    if num_workers < 0:
        problems.append(f"data.num_workers must be >= 0 (got {num_workers})")
    if test_clips < 1:
        problems.append(f"data.test_clips must be >= 1 (got {test_clips})")
    if test_crops not in (1, 3):
        problems.append(f"data.test_crops must be 1 or 3 (got {test_crops})")
    if problems:
        raise ValueError("; ".join(problems))
