"""`lit-video compare`: leaderboards side by side, a planted regression flagged, CI exit codes."""

from __future__ import annotations

import json

import pytest

from lit_video.report import compare
from lit_video.results.folder import append_row
from lit_video.results.leaderboard import write_leaderboards
from lit_video.results.schema import make_row


def row(model: str, video_top1: float, seed: int = 0, clips_per_s: float = 100.0, **extra) -> dict:
    return make_row(model=model, family=model, dataset="synthetic", frames=8, fps=5.0, size=32, eval_views=2,
                    seed=seed, params=1_000_000, gmacs_per_clip=0.5, gmacs_per_video=1.0,
                    clip_top1=video_top1, video_top1=video_top1, mean_class_acc=video_top1,
                    infer_clips_per_s=clips_per_s,
                    latency_ms_p50=10.0, peak_mem_mb=100.0, device="cpu: test, 2 threads",
                    config_hash=f"{model}-{seed}", status="ok", **extra)


@pytest.fixture
def boards(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_leaderboards(a, [row("c3d", 0.80), row("single_frame", 0.60), row("lrcn", 0.5)], "A")
    # B: c3d loses 10 points (the planted regression), single_frame within noise, lrcn failed.
    write_leaderboards(b, [row("c3d", 0.70), row("single_frame", 0.595),
                           make_row(model="lrcn", family="lrcn", dataset="synthetic", frames=8, fps=5.0,
                                    size=32, eval_views=2, seed=0, config_hash="lrcn-0", status="failed",
                                    error="FloatingPointError: training loss is nan")], "B")
    return a, b


def test_compare_flags_planted_regression(boards, capsys, monkeypatch):
    a, b = boards
    assert compare.main([str(a), str(b), "--json"]) == 0  # reports, but only fails when asked to
    result = {line["model"]: line for line in json.loads(capsys.readouterr().out)}
    assert any("video top-1" in r for r in result["c3d"]["regressions"])
    assert result["single_frame"]["regressions"] == []  # 0.5 points is below the 1-point threshold
    assert "failed in B" in result["lrcn"]["regressions"][0]
    monkeypatch.setenv("COLUMNS", "80")
    assert compare.main([str(a), str(b), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    # Piped: a table of deltas, one line per model (A, B and the change of video top-1 and inference clips/s), then
    # the flagged lines' details; 80 columns, no terminal codes.
    lines = out.splitlines()
    assert "\x1b" not in out and max(map(len, lines)) <= 80
    header = lines.index(next(line for line in lines if line.startswith("variant")))
    assert lines[header - 1].split() == ["video", "top-1", "%", "infer", "clips/s"]
    assert lines[header].split() == ["variant", "A", "B", "Δ", "A", "B", "Δ"]
    table = {line.split()[0]: line.split()[1:] for line in lines[header + 1:header + 4]}
    assert table == {"c3d": ["80.0", "70.0", "-10.0", "100", "100", "+0%", "REGRESSED"],
                     "single_frame": ["60.0", "59.5", "-0.5", "100", "100", "+0%"],
                     "lrcn": ["50.0", "-", "100", "-", "REGRESSED"]}
    details = lines[header + 4:]
    assert details[:4] == ["", "REGRESSED (2 of 3 lines):",
                           "  c3d: video top-1 % 80.0 -> 70.0 (-10.0 points; one seed: judged against",
                           "    --threshold alone)"]
    assert "  lrcn: failed in B: FloatingPointError: training loss is nan" in details
    assert details[-1] == "2 of 3 lines regressed (beyond 1.0 points / 10% speed)"


def test_a_long_name_is_cut_in_the_table_and_whole_in_the_details(tmp_path, capsys, monkeypatch):
    label = "single_frame[backbone=resnet34, dropout=0.5, lr=0.0003]"  # rich markup would read the brackets
    append_row(tmp_path / "a.jsonl", {**row("single_frame", 0.8), "variant": label})
    append_row(tmp_path / "b.jsonl", {**row("single_frame", 0.7), "variant": label})
    monkeypatch.setenv("COLUMNS", "80")
    assert compare.main([str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 80
    assert any(line.startswith(f"{label[:30]}…") and line.endswith("REGRESSED") for line in out.splitlines())
    assert f"{label}: video top-1 % 80.0 -> 70.0" in " ".join(out.split())


def test_compare_threshold_and_identical_boards(boards, capsys):
    a, _ = boards
    # The same board as JSON and as CSV: nothing to flag.
    assert compare.main([str(a), str(a / "leaderboard.csv"), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "no regressions" in out and "different devices" not in out  # the CSV keeps the device


def test_compare_speed_regression_only_on_same_device(tmp_path, capsys):
    append_row(tmp_path / "a.jsonl", row("c3d", 0.8, clips_per_s=100.0))
    append_row(tmp_path / "b.jsonl", row("c3d", 0.8, clips_per_s=50.0))
    append_row(tmp_path / "c.jsonl", {**row("c3d", 0.8, clips_per_s=50.0), "device": "cuda: other"})
    a, b, c = (str(tmp_path / f"{n}.jsonl") for n in "abc")
    assert compare.main([a, b, "--fail-on-regression"]) == 1
    assert "infer clips/s" in capsys.readouterr().out
    assert compare.main([a, c, "--fail-on-regression"]) == 0
    assert "different devices" in capsys.readouterr().out


def test_compare_bad_input(tmp_path, capsys):
    assert compare.main([str(tmp_path / "missing"), str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "x.json").write_text("{not json")
    assert compare.main([str(tmp_path / "x.json"), str(tmp_path / "x.json")]) == 2
    assert "x.json" in capsys.readouterr().err


def test_a_drop_within_the_noise_over_seeds_is_no_regression(tmp_path, capsys):
    """Three seeds each: a 1.2-point drop inside the seeds' spread is noted, a 20-point drop is a regression;
    one seed each: the threshold alone judges, and the output says so."""
    a_tops, b_tops = (0.60, 0.64, 0.68), (0.59, 0.62, 0.675)  # means 64.0 and 62.8, std 4 and 4.3 points
    for seed, (ta, tb) in enumerate(zip(a_tops, b_tops, strict=True)):
        append_row(tmp_path / "a.jsonl", row("c3d", ta, seed=seed))
        append_row(tmp_path / "b.jsonl", row("c3d", tb, seed=seed))
        append_row(tmp_path / "c.jsonl", row("c3d", ta - 0.2, seed=seed))
    a, b, c = (str(tmp_path / f"{n}.jsonl") for n in "abc")
    printed = lambda: " ".join(capsys.readouterr().out.split())  # noqa: E731 (the details wrap to the terminal)
    assert compare.main([a, b, "--fail-on-regression"]) == 0
    assert "c3d: video top-1 % 64.0 -> 62.8 (-1.2 points): within the noise over seeds" in printed()
    assert compare.main([a, c, "--fail-on-regression"]) == 1
    # 20 points down; the two 95 % intervals (+-9.9 points each: t 4.303 x 4 / sqrt 3) 0.1 apart.
    assert "c3d: video top-1 % 64.0 -> 44.0 (-20.0 points, 0.1 beyond the noise over seeds)" in printed()
    append_row(tmp_path / "d.jsonl", row("c3d", 0.640))
    append_row(tmp_path / "e.jsonl", row("c3d", 0.628))
    assert compare.main([str(tmp_path / "d.jsonl"), str(tmp_path / "e.jsonl"), "--fail-on-regression"]) == 1
    assert "(-1.2 points; one seed: judged against --threshold alone)" in printed()


def test_lines_measured_on_different_data_are_not_compared(tmp_path, capsys):
    """One dataset label, other videos (32, then 5000): B's figures are not judged against A's, the notes say why,
    and with no line compared at all the command exits 2 saying so, whatever the figures."""
    a, b, c = (tmp_path / f"{name}.jsonl" for name in "abc")
    for model, (top_a, top_b) in {"c3d": (0.8, 0.3), "lrcn": (0.6, 0.2)}.items():
        append_row(a, row(model, top_a, dataset_fingerprint={"videos": 32, "hash": "ab12"}))
        append_row(b, row(model, top_b, dataset_fingerprint={"videos": 5000, "hash": "cd34"}))
    append_row(c, row("c3d", 0.8, dataset_fingerprint={"videos": 32, "hash": "ab12"}))
    append_row(c, row("lrcn", 0.6, dataset_fingerprint={"videos": 5000, "hash": "cd34"}))
    assert compare.main([str(a), str(b)]) == 2
    printed = capsys.readouterr()
    out = " ".join(printed.out.split())
    assert "REGRESSED" not in out and "-50.0" not in out  # no change shown: there is none to measure
    assert ("every line (2): measured on different data (A: 32 videos, hash ab12; B: 5000 videos, hash cd34): "
            "not compared") in out
    assert printed.err == ("lit-video compare: nothing compared: every line A and B share was measured on different "
                           "data (see the notes)\n")
    assert compare.main([str(a), str(c), "--fail-on-regression"]) == 0  # c3d compared; lrcn's data differ
    out = " ".join(capsys.readouterr().out.split())
    assert "lrcn: measured on different data" in out
    assert out.endswith("no regressions (beyond 1.0 points / 10% speed); 1 line measured on different data, not "
                        "compared")


def test_boards_without_a_common_line_say_what_sets_them_apart(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    append_row(a, row("c3d", 0.8))
    append_row(b, {**row("c3d", 0.8), "size": 64})
    assert compare.main([str(a), str(b), "--fail-on-regression"]) == 2
    assert capsys.readouterr().err == ("lit-video compare: nothing compared: no line of B matches one of A (by "
                                       "variant, dataset, frames, size, fps, eval_views); they differ in size (A: "
                                       "32; B: 64)\n")
