"""The help a person reads: `lit-video --help` and `--version` without importing torch, and every small command's
help within 80 columns."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lit_video
from lit_video.cli import main

# Runs the command, then says whether torch was imported (a check of sys.modules, not a timing).
NO_TORCH = "import sys; from lit_video.cli import main; code = main(sys.argv[1:]); print('torch' in sys.modules); " \
           "sys.exit(code)"


@pytest.mark.integration
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["models"], ["models", "c3d"]])
def test_help_version_and_the_model_list_import_no_torch(args):
    done = subprocess.run([sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, check=True)
    *out, imported = done.stdout.splitlines()
    assert imported == "False"
    if args == ["--version"]:
        assert out == [f"lit-video {lit_video.__version__}"]


@pytest.mark.integration  # imports torch in a fresh interpreter
def test_the_package_imports_its_public_names_on_first_use():
    code = "import sys, lit_video; print('torch' in sys.modules); lit_video.create_model; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        lit_video.nothing  # noqa: B018


COMMANDS = [[], ["models"], ["data"], ["data", "synth"], ["data", "check"], ["data", "flow"], ["profile"],
            ["sweep"], ["report"], ["report", "html"], ["report", "lecture-claims"], ["report", "fidelity"],
            ["visualize"], ["visualize", "class-model"], ["visualize", "saliency"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_small_commands_help_fits_80_columns(command, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    try:
        assert main([*command, "--help"]) == 0
    except SystemExit as done:  # argparse's --help
        assert done.code == 0
    out = capsys.readouterr().out
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert out and not too_long
    assert "``" not in out


def test_a_description_is_whole_and_printed_once(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for command, text in ((["report"], "(one subcommand per kind)"), (["visualize"], "what a trained model")):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert " ".join(capsys.readouterr().out.split()).count(text) == 1, command

