"""lit_video.terminal: the one answer to "a terminal or piped?", and progress that reads well either way."""

from __future__ import annotations

from rich.console import Console

from lit_video import terminal


def test_piped_output_is_80_columns_unless_columns_says_otherwise(monkeypatch, capsys):
    """Not rich's guess from whichever of stdin, stdout, stderr is a terminal (``... | tee log`` would log lines as
    wide as the terminal): 80, or what COLUMNS asks for."""
    monkeypatch.delenv("COLUMNS", raising=False)
    out = terminal.console()
    assert not out.is_terminal and out.width == terminal.WIDTH == 80
    out.print("failed x" * 20, style="red")
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and printed.startswith("failed x") and max(map(len, printed.splitlines())) <= 80
    monkeypatch.setenv("COLUMNS", "120")
    assert terminal.console().width == terminal.width() == 120


def test_piped_progress_is_a_line_at_each_tenth_and_the_last_never_one_per_item(monkeypatch, capsys):
    assert list(terminal.progress(range(1000), 1000, "optical flow", "videos")) == list(range(1000))
    # A fast run: only the last line (the tenths are at least EVERY_S apart).
    assert capsys.readouterr().out == "optical flow: 1000/1000 videos (100 %), 0:00:00\n"
    monkeypatch.setattr(terminal, "EVERY_S", 0.0)
    list(terminal.progress(range(1000), 1000, "optical flow", "videos"))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        f"optical flow: {n}/1000 videos ({n // 10} %)" for n in range(100, 1001, 100)]


def test_in_a_terminal_progress_is_one_bar_that_fits_80_columns():
    out = Console(force_terminal=True, width=80, record=True)
    assert list(terminal.progress(iter(range(5)), 5, "synthetic data", "videos", out)) == list(range(5))
    frames = out.export_text().strip().split("synthetic data ")[1:]  # each redraw of the one line
    assert frames and all(len(f"synthetic data {frame}") <= 80 and "\n" not in frame for frame in frames)
    assert frames[-1].startswith("━") and frames[-1].endswith(" 5/5 videos 0:00:00")


def test_names_a_user_chose_print_as_written_never_as_markup(tmp_path, capsys):
    """A label the config accepts, ``a [/] b [red]c``, was rich markup: the end-of-sweep table raised MarkupError
    (a closing tag with nothing to close) or printed ``a  b c`` in red."""
    from lit_video.sweep.runner import _report

    label = "a [/] b [red]c"
    line = {"rank": 1, "variant": label, "dataset": "data", "status": "ok", "video_top1": 0.5, "gmacs_per_video": 1.0}
    assert _report("s", [line], [], tmp_path, None, terminal.console(), [], "summary [/]") == 0
    printed = capsys.readouterr().out
    assert f"1. {label} (data)" in printed and "summary [/]" in printed


def test_durations_and_cut_text():
    assert terminal.duration(3725.9) == "1:02:05" and terminal.duration(None) == "?"
    assert terminal.fit("abcdef", 4) == "abc…" and terminal.fit("abc", 4) == "abc"
