"""``lit-video visualize class-model | saliency``: what a trained model looks for, and where it looks.

    lit-video visualize class-model --ckpt CKPT --class move_right \\
        --temporal-penalty 0 1 10 --out viz/
    lit-video visualize saliency --ckpt CKPT VIDEO [--class NAME] --out viz/

class-model writes, per class and temporal penalty, ``<class>/temporal-<w>/``: ``clip.gif`` and ``clip.mp4`` (the
optimised clip), ``strip.png`` (its frames; under them its motion part, and for a model that takes optical flow the
flow on the colour wheel), ``appearance.png`` (the temporal mean), ``motion.gif``, and ``summary.json`` (the
settings, the class's score and probability, the motion energy). saliency writes, for the predicted class and a
chosen one, ``<video>/<class>/``: ``heat.gif``, ``strip.png`` (frames over heat), ``per_frame.png`` and
``saliency.json``. ``--wandb offline|online`` logs the clips (wandb.Video) and pictures to a wandb run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.progress import Progress

from ..terminal import HelpFormatter, console


def _parser() -> argparse.ArgumentParser:
    description, epilog = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(prog="lit-video visualize", description=description, epilog=epilog,
                                     formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ckpt", required=True, help="a lit-video checkpoint (lit-video fit, or a sweep's runs/)")
    common.add_argument("--out", default="visualize", help="folder for the pictures (default: visualize)")
    common.add_argument("--wandb", choices=("offline", "online"), help="also log them to a wandb run")
    common.add_argument("--device", default="cpu")
    cm = commands.add_parser("class-model", parents=[common], help="the clip that maximises a class's score",
                             formatter_class=HelpFormatter)
    cm.add_argument("--class", dest="classes", nargs="+", required=True, metavar="NAME", help="class name(s)")
    cm.add_argument("--temporal-penalty", type=float, nargs="+", default=[0.0, 1.0, 10.0], metavar="W",
                    help="weights of the temporal smoothness penalty, one clip each: low lets the clip change fast "
                         "(fast motion), high keeps it slow (default: 0 1 10)")
    from .class_model import ClassModelSettings

    defaults = ClassModelSettings()
    for name, kind, text in (("steps", int, "gradient steps"), ("lr", float, "Adam's learning rate"),
                             ("l2", float, "L2 penalty weight"), ("tv", float, "spatial total variation weight"),
                             ("jitter", int, "pixels of random shift a step"), ("seed", int, "the start's seed")):
        cm.add_argument(f"--{name}", type=kind, default=getattr(defaults, name),
                        help=f"{text} (default: {getattr(defaults, name)})")
    sal = commands.add_parser("saliency", parents=[common], help="gradient x input over a real video's frames")
    sal.add_argument("video", help="a video file")
    sal.add_argument("--class", dest="target", metavar="NAME", help="a class besides the predicted one")
    return parser


def _wandb_run(mode: str | None, out: Path, command: str, config: dict[str, Any]) -> Any:
    if mode is None:
        return None
    import wandb

    return wandb.init(project="lit-video", job_type=f"visualize-{command}", dir=str(out), mode=mode, config=config)


def class_model_main(args: argparse.Namespace) -> int:
    import torch

    from ..data.synthetic import write_video
    from . import load_trained_model
    from .class_model import ClassModelSettings, appearance_and_motion, class_model, motion_energy
    from .render import (
        deviation_frames,
        enlarge,
        flow_frames,
        rgb_frames,
        write_gif,
        write_image,
        write_strip,
    )

    model = load_trained_model(args.ckpt, args.device)
    targets = [model.class_index(name) for name in args.classes]  # an unknown name fails here, listing the classes
    settings = [ClassModelSettings(steps=args.steps, lr=args.lr, l2=args.l2, tv=args.tv, temporal=w,
                                   jitter=args.jitter, seed=args.seed) for w in args.temporal_penalty]
    out = Path(args.out)
    run = _wandb_run(args.wandb, out, "class-model", {"ckpt": args.ckpt, "classes": args.classes,
                                                       "settings": [vars(s) for s in settings]})
    with Progress(console=console()) as progress:
        task = progress.add_task("class models", total=len(targets) * len(settings) * settings[0].steps)
        for name, target in zip(args.classes, targets, strict=True):
            for setting in settings:
                inputs = class_model(model, target, setting, lambda step, score: progress.advance(task))
                folder = out / name / f"temporal-{setting.temporal:g}"
                folder.mkdir(parents=True, exist_ok=True)
                appearance, motion = appearance_and_motion(inputs["rgb"])
                frames = enlarge(rgb_frames(inputs["rgb"]))
                rows = [frames, enlarge(deviation_frames(motion))]
                if "flow" in inputs:
                    rows.append(enlarge(flow_frames(inputs["flow"])))
                    write_gif(folder / "flow.gif", rows[-1], model.fps)
                write_gif(folder / "clip.gif", frames, model.fps)
                write_video(folder / "clip.mp4", frames, model.fps)  # H.264, as the datasets' videos
                write_gif(folder / "motion.gif", rows[1], model.fps)
                write_strip(folder / "strip.png", rows)
                write_image(folder / "appearance.png", enlarge(rgb_frames(appearance.unsqueeze(1)))[0])
                with torch.no_grad():
                    logits = model({m: x.unsqueeze(0) for m, x in inputs.items()})
                summary = {"class": name, "settings": vars(setting), "score": float(logits[0, target]),
                           "probability": float(logits.softmax(1)[0, target]),
                           "motion_energy": motion_energy(inputs["rgb"])}
                (folder / "summary.json").write_text(json.dumps(summary, indent=1))
                progress.console.print(f"{name}, temporal penalty {setting.temporal:g}: probability "
                                       f"{summary['probability']:.3f}, motion energy {summary['motion_energy']:.4f}"
                                       f" -> {folder}")
                if run is not None:
                    import wandb

                    key = f"class_model/{name}/temporal-{setting.temporal:g}"
                    run.log({f"{key}/clip": wandb.Video(str(folder / "clip.gif")),
                             f"{key}/strip": wandb.Image(str(folder / "strip.png")),
                             f"{key}/appearance": wandb.Image(str(folder / "appearance.png")), **{
                                 f"{key}/{k}": v for k, v in summary.items() if isinstance(v, float)}})
    if run is not None:
        run.finish()
    return 0


def saliency_main(args: argparse.Namespace) -> int:
    from . import load_trained_model
    from .render import enlarge, heat_frames, write_gif, write_importance_plot, write_strip
    from .saliency import saliency

    model = load_trained_model(args.ckpt, args.device)
    chosen = model.class_index(args.target) if args.target else None
    out = Path(args.out) / Path(args.video).stem
    predicted = saliency(model, args.video)  # first: a video that cannot be read leaves no folder and no run
    run = _wandb_run(args.wandb, Path(args.out), "saliency", {"ckpt": args.ckpt, "video": args.video})
    results = [predicted] + ([saliency(model, args.video, chosen)] if chosen not in (None, predicted.target) else [])
    for result in results:
        name = model.class_names[result.target]
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        overlaid = enlarge(heat_frames(result.frames, result.heat))
        write_gif(folder / "heat.gif", overlaid, model.fps)
        write_strip(folder / "strip.png", [enlarge(result.frames), overlaid])
        role = "predicted" if result is predicted else "chosen"
        write_importance_plot(folder / "per_frame.png", result.per_frame, result.indices,
                              f"{name} ({role}, p={result.probability:.2f}), {Path(args.video).name}")
        summary = {"video": str(args.video), "class": name, "role": role, "probability": result.probability,
                   "frame_indices": result.indices, "per_frame": result.per_frame.round(5).tolist(),
                   "peak_frame": result.indices[int(result.per_frame.argmax())]}
        (folder / "saliency.json").write_text(json.dumps(summary, indent=1))
        print(f"{name} ({role}, probability {result.probability:.3f}): importance peaks at frame "
              f"{summary['peak_frame']} -> {folder}")
        if run is not None:
            import wandb

            run.log({f"saliency/{name}/heat": wandb.Video(str(folder / "heat.gif")),
                     f"saliency/{name}/per_frame": wandb.Image(str(folder / "per_frame.png"))})
    if run is not None:
        run.finish()
    return 0


def main(argv: list[str] | None = None) -> int:
    from ..data.decode import VideoReadError

    args = _parser().parse_args(argv)
    try:
        return class_model_main(args) if args.command == "class-model" else saliency_main(args)
    except (FileNotFoundError, ValueError, VideoReadError) as err:  # a checkpoint, a class or a video: one line
        print(f"lit-video visualize: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
