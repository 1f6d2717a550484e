"""``lit-video data synth|check``: write the synthetic dataset; list the videos of a dataset that cannot be read."""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from .annotations import FORMATS, SPLITS, read_annotations
from .decode import BACKENDS, VideoReadError, check_video
from .synthetic import GROUPS, write_synthetic_dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lit-video data", description=__doc__)
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
    check.add_argument("root", type=Path, help="dataset root folder")
    check.add_argument("--format", default="auto", choices=FORMATS)
    check.add_argument("--annotations", default=None, help="annotation file or folder (default: found under root)")
    check.add_argument("--backend", default="decord", choices=BACKENDS)
    check.add_argument("--val-split", default="val", choices=SPLITS,
                       help="the split to validate on, as data.val_split (test: a dataset without a val split)")
    check.add_argument("--test-split", default="test", choices=SPLITS,
                       help="the split to test on, as data.test_split")
    return parser


def synth(args: argparse.Namespace, console: Console) -> int:
    start = time.perf_counter()
    out = write_synthetic_dataset(args.out, args.groups, args.classes_per_group, args.videos_per_class,
                                  args.eval_videos_per_class, args.frames, args.size, args.fps, args.seed,
                                  args.workers)
    videos = sum(1 for _ in out.rglob("*.mp4"))
    # Unwrapped and as written: the path stays whole for copying.
    console.print(f"wrote {videos} videos to {out} in {time.perf_counter() - start:.1f} s", soft_wrap=True,
                  markup=False, highlight=False)
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
        console.print(f"[red]{kind}[/red] {escape(what)}: {escape(why)}", soft_wrap=True, highlight=False)
    console.print(f"{info.format}: {len(videos)} videos checked, {len(info.class_names)} classes, "
                  f"{len(bad)} problems")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    try:
        return {"synth": synth, "check": check}[args.command](args, console)
    except ValueError as err:
        console.print(f"error: {err}", markup=False, highlight=False, soft_wrap=True)
        return 2
