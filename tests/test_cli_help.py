"""The help a person reads: every small command's help within 80 columns, its description whole and once."""

from __future__ import annotations

import pytest

from lit_video.cli import main

COMMANDS = [["data"], ["data", "synth"], ["data", "check"], ["data", "flow"], ["profile"],
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

