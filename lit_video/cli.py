"""The ``lit-video`` command.

``fit | validate | test`` go through LightningCLI (YAML configs, ``--print_config``; ``train.VideoCLI``, for the task
a config names); the other subcommands (``models``, ``data``, ``profile``, ``sweep``, ``compare``, ``report``,
``visualize``) are small argparse programs, each in the ``cli.py`` of its package.
"""

from __future__ import annotations

import argparse
import json
import sys

from .train import ConfigError, VideoCLI, task_of

SUBCOMMANDS = {
    "fit": "train a model (LightningCLI; --help for all options)",
    "validate": "evaluate a checkpoint on the validation split",
    "test": "evaluate a checkpoint on the test split (multi-clip, video-level)",
    "models": "list the model registry with its metadata",
    "data": "synth | check | flow: write the built-in synthetic dataset, list unreadable videos, cache optical flow",
    "profile": "GMACs / GFLOPs, parameters, receptive fields, throughput, memory and MFU of a model",
    "sweep": "the main job: train, test and profile many models, write leaderboards",
    "compare": "two leaderboards side by side, with regressions flagged",
    "report": "html | lecture-claims | fidelity: reports from a sweep's results or the registry",
    "visualize": "class-model | saliency: what a trained model looks for, and where in space and time it looks",
}


def models_main(argv: list[str]) -> int:
    """``lit-video models``: the registry as a table, or JSON."""
    from rich.console import Console
    from rich.table import Table

    from .models import list_models, model_info

    parser = argparse.ArgumentParser(prog="lit-video models", description="List the model registry.")
    parser.add_argument("pattern", nargs="?", help="only names containing this text, or matching a glob ('vivit*')")
    parser.add_argument("--json", action="store_true", help="print model_info of every model as JSON")
    args = parser.parse_args(argv)
    infos = [model_info(name) for name in list_models(args.pattern)]
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
        return 0
    table = Table(title=f"lit-video models ({len(infos)})")
    table.add_column("name", no_wrap=True)
    for column in ("family", "inputs", "frames", "size", "published", "description"):
        table.add_column(column, overflow="fold")
    for info in infos:
        note = "\n".join(p.summary() for p in info.published if p.summary())
        table.add_row(info.name, info.family, "+".join(info.modalities), str(info.clip.frames), str(info.clip.size),
                      note, info.description)
    Console().print(table)
    return 0


def _print_help() -> None:
    print("usage: lit-video <command> [options]\n\nA benchmark suite for video-understanding architectures.\n")
    for name, text in SUBCOMMANDS.items():
        print(f"  {name:<10} {text}")
    print("\n`lit-video <command> --help` for a command's options.")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        _print_help()
        return 0
    command, rest = argv[0], argv[1:]
    if command == "models":
        return models_main(rest)
    if command == "data":
        from .data.cli import main as data_main

        return data_main(rest)
    if command == "profile":
        from .profiling.cli import main as profile_main

        return profile_main(rest)
    if command == "sweep":
        from .sweep.cli import main as sweep_main

        return sweep_main(rest)
    if command == "compare":
        from .report.compare import main as compare_main

        return compare_main(rest)
    if command == "report":
        from .report.cli import main as report_main

        return report_main(rest)
    if command == "visualize":
        from .visualize.cli import main as visualize_main

        return visualize_main(rest)
    if command not in ("fit", "validate", "test", "predict"):
        print(f"lit-video: unknown command {command!r}; choose from {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    try:
        # LightningCLI warns when given args while sys.argv holds others; from the console they are the same.
        VideoCLI(args=None if argv == sys.argv[1:] else argv, task=task_of(rest))
    except ConfigError as err:
        print(f"lit-video {command}: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
