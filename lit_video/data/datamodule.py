"""``VideoDataModule``: any supported dataset (or the built-in synthetic one) as train / val / test loaders."""

from __future__ import annotations

import functools
import hashlib
import os
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader

from lit_video.clip import DEFAULT_CLIP, MODALITY_CHANNELS, Clip
from lit_video.files import cache_dir

from .annotations import FORMATS, SPLITS, read_annotations
from .dataset import ClipDataset
from .decode import BACKENDS, VideoProbe, VideoReadError, probe_videos, resolve_backend
from .flow import METHODS as FLOW_METHODS
from .flow import ClipFlow, FlowSettings, flow_gaps, missing_gaps, precompute_flow
from .skipped import SKIPPED_FILE, SkippedVideos
from .synthetic import builtin_dataset
from .transforms import ClipTransform

# What a DataModule can deliver: RGB clips, and their optical flow.
MODALITIES = tuple(MODALITY_CHANNELS)
# The settings that decide what a model sees of a video: a model from a checkpoint is tested and validated with its
# training's unless an option says otherwise (``train.VideoCLI``), and looked at with them (``visualize``).
CLIP_SETTINGS = ("frames", "fps", "size", "resize", "modalities", "flow_method", "flow_subtract_mean")
# The splits each Lightning stage needs (``None``: every split).
STAGE_SPLITS: dict[str | None, tuple[str, ...]] = {
    "fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": (), None: SPLITS}


def dataset_label(name: str | None, root: str | None) -> str:
    """The dataset's label in results tables: ``name`` if given, else the root folder's name, or ``synthetic``
    for the built-in data (``root=None``)."""
    if name:
        return name
    return "synthetic" if root is None else Path(os.path.abspath(root)).name


def eval_views(test_clips: int, test_crops: int) -> int:
    """Views (clips x crops) the test loader takes of each video; per-video figures are per clip x this."""
    if test_clips < 1 or test_crops < 1:
        raise ValueError(f"test_clips and test_crops must be >= 1 (got {test_clips} and {test_crops})")
    return test_clips * test_crops


class VideoDataModule(L.LightningDataModule):
    """Video clips of a dataset, or of the built-in one, for training and testing.

    The annotations are read at construction, so ``num_classes``, ``multi_label``, ``class_names`` and ``groups``
    are known right away; videos are probed in ``setup`` (once: the probes are cached). After construction
    ``frames``, ``fps`` and ``size`` (and the saved hyperparameters) are the numbers used. Training draws one random
    clip per video (random crop, flipped unless ``flip`` says no), validation takes the centre clip, test takes
    ``test_clips`` x ``test_crops`` views of each video, decoded once for all of them; a test batch holds whole
    videos (``batch_size`` clips at most, or all of one video's views where they are more). Every split must have
    videos: a missing or empty one is a ``ValueError`` naming its file. A video listed in two splits, or twice in
    one, is warned about. Videos that cannot be read are skipped with one warning each and listed in ``skipped``
    and in ``skipped_videos.txt`` in the log folder, including those that fail later in DataLoader workers.
    Under DDP every process trains on its share of the videos (Lightning's ``DistributedSampler``), and validation
    and test give each video to exactly one process (Lightning's ``UnrepeatedDistributedSampler``: the default
    sampler pads a split by repeating videos, which would count them twice), so the metrics gathered from all
    processes are a single process's.

    Args:
        root: the dataset's folder; left out, the built-in synthetic dataset (written on first use to
            ``$LIT_VIDEO_CACHE``).
        format: the annotations' layout: ``kinetics`` (CSVs), ``sports1m`` (partition files), ``folder`` (a folder
            of videos per class) or ``auto`` (the one ``root`` holds).
        annotations: the folder or file of the annotations, where not in ``root``.
        frames: frames per clip (None: the model's clip, ``model_info(name).clip``; built directly,
            ``lit_video.clip.DEFAULT_CLIP``, 8 frames at 5 fps, 112 px).
        fps: frames per second the clip's frames are sampled at (None: the model's clip).
        size: the clips' crop, in px (None: the model's clip).
        resize: the short side frames are resized to before cropping (None: ``size`` x 128 / 112, as C3D's 128 px
            for 112 px crops).
        batch_size: clips per batch.
        num_workers: DataLoader worker processes.
        test_clips: clips per video at test, evenly spread over its duration.
        test_crops: crops per clip at test: 1 (the centre) or 3 (along the long side).
        backend: the video decoder: ``decord``, ``pyav``, ``torchcodec`` or ``auto`` (the first of torchcodec and
            decord that this machine can run, else pyav).
        strict: raise on the first unreadable video instead of skipping it.
        seed: seeds the shuffle and the workers' random clips and crops.
        log_dir: where ``skipped_videos.txt`` goes (None: the trainer's log folder, else the working directory).
        flip: mirror training clips (None: unless the dataset's ``classes.json`` says a mirrored video is another
            class).
        name: the dataset's label in results tables (None: the root folder's name, or ``synthetic``).
        val_split: the split to validate on (``test`` for datasets with no validation split, such as UCF101).
        test_split: the split to test on (``val``: the validation videos).
        cache_frames: decode each video once per process and keep its frames in memory (resized to the clips' short
            side, up to 4 GiB a process): for small datasets such as the built-in one; pair it with
            ``num_workers=0`` so that one process holds them.
        modalities: what the model takes, ``rgb`` and/or ``flow`` (None: the model's; built directly, ``rgb``).
            With ``flow``, items are ``{"rgb": clip, "flow": its optical flow}``, the flow computed between frames
            sampled at ``fps`` and stored in the cache by ``prepare_data`` (or ahead of time: ``lit-video data flow``).
        flow_method: the optical flow's algorithm (``dis``, ``farneback`` or ``tvl1``).
        flow_subtract_mean: subtract each flow field's mean (the two-stream paper's compensation of camera motion).
        pin_memory: pin batches for faster copies to the GPU (None: when the Trainer runs on one).
        persistent_workers: keep the workers between epochs.
        prefetch_factor: batches each worker keeps ready.
    """

    def __init__(self, root: str | None = None, format: str = "auto", annotations: str | None = None,
                 frames: int | None = None, fps: float | None = None, size: int | None = None,
                 resize: int | None = None, batch_size: int = 8, num_workers: int = 2, test_clips: int = 4,
                 test_crops: int = 1, backend: str = "decord", strict: bool = False, seed: int = 0,
                 log_dir: str | None = None, flip: bool | None = None, name: str | None = None,
                 val_split: str = "val", test_split: str = "test", cache_frames: bool = False,
                 modalities: list[str] | None = None, flow_method: str = "dis", flow_subtract_mean: bool = False,
                 pin_memory: bool | None = None, persistent_workers: bool = True, prefetch_factor: int = 2):
        super().__init__()
        frames = DEFAULT_CLIP.frames if frames is None else frames
        fps = DEFAULT_CLIP.fps if fps is None else fps
        size = DEFAULT_CLIP.size if size is None else size
        # Saved after the defaults are filled in, so the hyperparameters say what was used. `name` stays out:
        # VideoClassifier's `name` is the model's, and Lightning refuses two values under one key.
        self.save_hyperparameters(ignore=["name"])
        _check_options(format, frames, fps, size, resize, batch_size, num_workers, test_clips, test_crops, backend,
                       val_split, test_split, modalities, flow_method, prefetch_factor)
        self.modalities = tuple(modalities or ("rgb",))
        # What the flow depends on (a bad method fails here); None where the model takes no flow.
        self.flow_settings = FlowSettings(flow_method, flow_subtract_mean) if "flow" in self.modalities else None
        self.root = Path(root) if root is not None else builtin_dataset()
        self.name = name
        self.frames, self.fps, self.size, self.resize = frames, fps, size, resize
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.pin_memory, self.persistent_workers, self.prefetch_factor = pin_memory, persistent_workers, prefetch_factor
        self.test_clips, self.test_crops = test_clips, test_crops
        self.backend = resolve_backend(backend)  # a backend this machine cannot run fails here, saying why
        if backend == "auto":
            rank_zero_info(f"data.backend auto: decoding with {self.backend}")
        self.log_dir, self.cache_frames = log_dir, cache_frames
        self._skipped = SkippedVideos(strict)
        info = read_annotations(self.root, format, annotations)
        if not info.videos():
            reasons = "; ".join(f"{what}: {why}" for what, why in info.skipped[:3])
            raise ValueError(f"no videos found in {str(self.root)!r} (format {info.format!r})"
                             + (f"; e.g. {reasons}" if reasons else "")
                             + ": check data.root, data.format and data.annotations")
        for what, why in info.skipped:  # first: they may be why a split is empty
            self._skipped.add(what, why)
        self.info = info.select_splits(val_split, test_split)
        for what, why in self.info.duplicates:
            warnings.warn(f"{what}: {why}", stacklevel=2)
        # Mirror training clips unless the dataset says a mirrored video is another class (classes.json).
        self.flip = self.info.horizontal_flip if flip is None else flip
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
        return dataset_label(self.name, self.hparams.root)

    @property
    def eval_views(self) -> int:
        return eval_views(self.test_clips, self.test_crops)

    @functools.cached_property
    def fingerprint(self) -> str:
        """A short hash of the classes and of every split's videos and labels: same data, same fingerprint.
        File names go in as bytes (``os.fsencode``), so any name the file system holds can be hashed. Kept: the
        pre-flight, the sweep's config and each entry ask for it, and ``info`` is set once."""
        digest = hashlib.sha1(repr(self.info.class_names).encode())
        for split in SPLITS:
            for record in self.info.splits[split]:
                rel = os.fsencode(os.path.relpath(record.path, self.root))
                digest.update(b"|".join([split.encode(), rel, f"{record.labels}|{record.segment}".encode()]))
        return digest.hexdigest()[:12]

    # -- bad videos ----------------------------------------------------------------------------------------
    @property
    def strict(self) -> bool:
        return self._skipped.strict

    @strict.setter
    def strict(self, value: bool) -> None:
        self._skipped.strict = value

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every input skipped so far, here or in a DataLoader worker; one per path."""
        return self._skipped.items()

    @property
    def skipped_file(self) -> Path:
        if self._skipped.file is not None:
            return self._skipped.file
        if self.log_dir is not None:
            folder = Path(self.log_dir)
        elif self.trainer is not None and self.trainer.log_dir is not None:
            folder = Path(self.trainer.log_dir)
        else:
            folder = Path.cwd()
        return folder / SKIPPED_FILE

    # -- datasets ------------------------------------------------------------------------------------------
    def _probe(self) -> dict[Path, VideoProbe | VideoReadError]:
        """Probe every video once (cached across runs); the unreadable ones are skipped and the skipped-videos
        file is started in the log folder."""
        if self._probes is None:
            key = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:16]
            cache = cache_dir() / "probes" / f"{key}.json"
            self._probes = probe_videos(self.info.videos(), self.backend, cache)
            for err in self._probes.values():
                if isinstance(err, VideoReadError):
                    self._skipped.add(err.path, err.reason)
            self._skipped.write_to(self.skipped_file)
        return self._probes

    def dataset(self, split: str) -> ClipDataset:
        """The ClipDataset of ``split`` (``train``, ``val`` or ``test``), probing the videos if not yet."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        if split not in self.datasets:
            probes = self._probe()
            videos = [(r, probes[r.path]) for r in self.info.splits[split]
                      if isinstance(probes[r.path], VideoProbe)]
            if not videos:
                raise ValueError(f"the {split} split of {str(self.root)!r} has no readable videos "
                                 f"({len(self.skipped)} skipped; see {self.skipped_file})")
            test = split == "test"
            self.datasets[split] = ClipDataset(
                videos, self.num_classes, self.multi_label, self.frames, self.fps,
                ClipTransform(self.size, self.resize, train=split == "train", flip=self.flip),
                clips=self.test_clips if test else 1, crops=self.test_crops if test else 1,
                backend=self.backend, skipped=self._skipped, cache_frames=self.cache_frames,
                flow=ClipFlow(self.flow_settings, self.backend) if self.flow_settings else None)
        return self.datasets[split]

    # -- Lightning hooks -------------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Store the optical flow of every readable video in the cache, where the model takes flow and it is not
        there yet; a video whose flow cannot be computed is skipped and listed like any unreadable video."""
        if self.flow_settings is None:
            return
        settings, backend = self.flow_settings, self.backend
        missing = [path for path, probe in self._probe().items()
                   if isinstance(probe, VideoProbe) and missing_gaps(path, settings, backend, gaps=flow_gaps(
                       probe.fps, self.fps))]
        start, computed = time.perf_counter(), 0
        for path, reason, why in precompute_flow(missing, settings, backend, self.fps):
            computed += why is not None
            if reason is not None:
                if self.strict:
                    raise VideoReadError(path, reason)
                self._skipped.add(path, reason)
        self._skipped.write_to(self.skipped_file)
        if computed:
            rank_zero_info(f"optical flow ({self.flow_settings.method}) of {computed} videos computed into the cache "
                           f"in {time.perf_counter() - start:.1f} s")

    def setup(self, stage: str | None = None) -> None:
        self._probe()
        for split in STAGE_SPLITS.get(stage, ()):
            self.dataset(split)

    def _loader(self, split: str) -> DataLoader:
        dataset = self.dataset(split)
        trainer = self.trainer
        on_gpu = trainer is not None and trainer.strategy.root_device.type == "cuda"
        workers = self.num_workers > 0
        # An item is a video with all its views, so a batch holds whole videos: batch_size clips at most, or one video's
        # views where they are more (a video's views are decoded together, once).
        return DataLoader(
            dataset, batch_size=max(1, self.batch_size // dataset.views), shuffle=split == "train",
            sampler=None if split == "train" else self._eval_sampler(split),
            num_workers=self.num_workers, collate_fn=dataset.collate,
            pin_memory=on_gpu if self.pin_memory is None else self.pin_memory,
            persistent_workers=workers and self.persistent_workers,
            prefetch_factor=self.prefetch_factor if workers else None,
            # The generator fixes the shuffle and each worker's base seed; the init function seeds the
            # worker's torch / numpy / random from it, so one seed gives the same clips and crops every run.
            worker_init_fn=pl_worker_init_function, generator=torch.Generator().manual_seed(self.seed))

    def _eval_sampler(self, split: str) -> UnrepeatedDistributedSampler | None:
        """Under DDP, each of the split's videos for exactly one process, in order (None in one process: Lightning
        leaves the loader as it is)."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1:
            return None
        dataset = self.dataset(split)
        if len(dataset) < trainer.world_size:
            raise ValueError(f"the {split} split has {len(dataset)} readable videos, fewer than the "
                             f"{trainer.world_size} processes of this run: each process must evaluate at least one")
        return UnrepeatedDistributedSampler(dataset, num_replicas=trainer.world_size, rank=trainer.global_rank,
                                            shuffle=False)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def _check_options(format: str, frames: int, fps: float, size: int, resize: int | None, batch_size: int,
                   num_workers: int, test_clips: int, test_crops: int, backend: str, val_split: str,
                   test_split: str, modalities: list[str] | None, flow_method: str, prefetch_factor: int) -> None:
    """Bad options fail here, at construction, with the option to change."""
    problems = []
    if format not in FORMATS:
        problems.append(f"data.format {format!r} is not one of {', '.join(FORMATS)}")
    if backend not in BACKENDS:
        problems.append(f"data.backend {backend!r} is not one of {', '.join(BACKENDS)}")
    problems += Clip(frames, size, fps).problems("data")
    if resize is not None and resize < size:
        problems.append(f"data.resize ({resize}) must be >= data.size ({size}): the crop is taken after resizing")
    if batch_size < 1:
        problems.append(f"data.batch_size must be >= 1 (got {batch_size})")
    if num_workers < 0:
        problems.append(f"data.num_workers must be >= 0 (got {num_workers})")
    if prefetch_factor < 1:
        problems.append(f"data.prefetch_factor must be >= 1 batch per worker (got {prefetch_factor})")
    if test_clips < 1:
        problems.append(f"data.test_clips must be >= 1 (got {test_clips})")
    if test_crops not in (1, 3):
        problems.append(f"data.test_crops must be 1 or 3 (got {test_crops})")
    for option, split in (("data.val_split", val_split), ("data.test_split", test_split)):
        if split not in SPLITS:
            problems.append(f"{option} {split!r} is not one of {', '.join(SPLITS)}")
    if flow_method not in FLOW_METHODS:
        problems.append(f"data.flow_method {flow_method!r} is not one of {', '.join(FLOW_METHODS)}")
    unknown = [m for m in modalities or () if m not in MODALITIES]
    if unknown or (modalities is not None and not modalities):
        problems.append(f"data.modalities {modalities!r}: choose from {', '.join(MODALITIES)}")
    if "flow" in (modalities or ()) and frames < 2:
        problems.append(f"data.frames must be >= 2 for optical flow, which is between frames (got {frames})")
    if problems:
        raise ValueError("; ".join(problems))
