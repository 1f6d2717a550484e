"""``lit-video data synth|check|flow``: write the synthetic dataset; list the videos of a dataset that cannot be
read; compute every video's optical flow into the cache."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .. import terminal
from ..terminal import HelpFormatter
from .annotations import FORMATS, SPLITS, read_annotations
from .decode import BACKENDS, VideoReadError, check_video
from .flow import METHODS, MISSING, FlowSettings, precompute_flow
from .synthetic import GROUPS, write_synthetic_dataset


def _dataset_arguments(command: argparse.ArgumentParser) -> None:
    """A dataset on disk and how to read it, for the commands that go through its videos."""
    command.add_argument("root", type=Path, help="dataset root folder")
    command.add_argument("--format", default="auto", choices=FORMATS)
    command.add_argument("--annotations", default=None, help="annotation file or folder (default: found under root)")
    command.add_argument("--backend", default="decord", choices=BACKENDS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lit-video data", description=__doc__, formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synth", help="write the synthetic dataset (real H.264 mp4 files, Kinetics layout)")
    synth.add_argument("--out", required=True, type=Path, help="folder to write the dataset into")
    synth.add_argument("--groups", nargs="+", default=None, metavar="GROUP",
                       help=f"class groups to write (default: all of {', '.join(GROUPS)})")
    synth.add_argument("--classes-per-group", type=int, default=None,
                       help="the first N classes of each group, N >= 2 (default: all; a smaller group keeps all)")
    synth.add_argument("--videos-per-class", type=int, default=48, help="train videos per class")
    synth.add_argument("--eval-videos-per-class", type=int, default=None,
                       help="val and test videos per class (default: a quarter of --videos-per-class)")
    synth.add_argument("--frames", type=int, default=60, help="longest video, in frames (shortest: half)")
    synth.add_argument("--size", type=int, default=64, help="frame height and width in pixels (even)")
    synth.add_argument("--fps", type=float, nargs="+", default=[12, 25, 30], help="native frame rates to mix")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--workers", type=int, default=None,
                       help="processes that render and encode (default: one per CPU); the bytes do not depend on it")
    check = commands.add_parser("check", help="list the videos that cannot be read, missing or empty splits and "
                                              "videos listed twice, and why (exit code 1 if any)")
    _dataset_arguments(check)
    check.add_argument("--val-split", default="val", choices=SPLITS,
                       help="the split to validate on, as data.val_split (test: a dataset without a val split)")
    check.add_argument("--test-split", default="test", choices=SPLITS,
                       help="the split to test on, as data.test_split")
    flow = commands.add_parser("flow", help="compute every video's optical flow into the cache (resumes: videos "
                                            "already there are skipped); list unreadable videos (exit code 1 if any)")
    _dataset_arguments(flow)
    flow.add_argument("--method", default="dis", choices=METHODS, help="OpenCV's estimator (default: dis)")
    flow.add_argument("--subtract-mean", action="store_true", help="each flow field minus its mean (camera motion)")
    flow.add_argument("--fps", type=float, default=None,
                      help="the flow of clips sampled at this frame rate, as data.fps (default: between consecutive "
                           "frames, the paper's)")
    flow.add_argument("--workers", type=int, default=None, help="processes (default: one per CPU)")
    return parser


def synth(args: argparse.Namespace, console: Console) -> int:
    start = time.perf_counter()
    out = write_synthetic_dataset(args.out, args.groups, args.classes_per_group, args.videos_per_class,
                                  args.eval_videos_per_class, args.frames, args.size, args.fps, args.seed,
                                  args.workers)
    videos = sum(1 for _ in out.rglob("*.mp4"))
    # Unwrapped and as written: the path stays whole for copying.
    console.print(f"wrote {videos} videos to {out} in {time.perf_counter() - start:.1f} s", soft_wrap=True)
    return 0


def check(args: argparse.Namespace, console: Console) -> int:
    info = read_annotations(args.root, args.format, args.annotations)
    videos = info.videos()
    # (kind, what, why): one line each
    bad = [("split", what, why) for what, why in info.split_problems(args.val_split, args.test_split)]
    if not videos:
        bad.append(("empty", str(args.root), "no videos found: check the root, --format and --annotations"))
    bad += [("duplicate", what, why) for what, why in info.duplicates]
    bad += [("skipped", what, why) for what, why in info.skipped]

    def check_one(path: Path) -> VideoReadError | None:
        try:
            check_video(path, args.backend)
        except VideoReadError as err:
            return err
        return None

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        bad += [("unreadable", err.path, err.reason) for err in pool.map(check_one, videos) if err is not None]
    for kind, what, why in bad:  # one line each, unwrapped: paths stay whole for grep and copy
        console.print(Text(kind, "red"), f"{what}: {why}", soft_wrap=True)
    console.print(f"{info.format}: {len(videos)} videos checked, {len(info.class_names)} classes, "
                  f"{len(bad)} problems")
    return 1 if bad else 0


def flow(args: argparse.Namespace, console: Console) -> int:
    settings = FlowSettings(method=args.method, subtract_mean=args.subtract_mean)  # a bad setting fails first
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.fps is not None and args.fps <= 0:
        raise ValueError(f"--fps must be > 0 frames per second, got {args.fps}")
    videos = read_annotations(args.root, args.format, args.annotations).videos()
    start, bad, computed = time.perf_counter(), [], Counter()
    for path, reason, why in precompute_flow(videos, settings, args.backend, args.fps, args.workers):
        if reason is not None:
            bad.append((path, reason))
        elif why is not None:
            computed[why] += 1
    for path, reason in bad:  # one line each, unwrapped: paths stay whole for grep and copy
        console.print(Text("unreadable", "red"), f"{path}: {reason}", soft_wrap=True)
    new = computed.pop(MISSING, 0)
    # A cache file that was there but not as its stamp says is counted apart, with why.
    recomputed = sum(computed.values())
    why = f" ({', '.join(f'{reason} {n}' for reason, n in sorted(computed.items()))})" if computed else ""
    clips = f"clips at {args.fps:g} fps" if args.fps else "consecutive frames"
    console.print(f"{len(videos)} videos: flow computed for {new}, recomputed {recomputed}{why}, already cached "
                  f"{len(videos) - len(bad) - new - recomputed}, unreadable {len(bad)} ({settings.method}, {clips}, "
                  f"{time.perf_counter() - start:.1f} s)")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    console = terminal.console()
    try:
        return {"synth": synth, "check": check, "flow": flow}[args.command](args, console)
    except ValueError as err:
        console.print(f"error: {err}", soft_wrap=True)
        return 2
