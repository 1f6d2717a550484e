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


def test_compare_flags_planted_regression(boards, capsys):
    a, b = boards
    assert compare.main([str(a), str(b), "--json"]) == 0  # reports, but only fails when asked to
    result = {line["model"]: line for line in json.loads(capsys.readouterr().out)}
    assert any("video top-1" in r for r in result["c3d"]["regressions"])
    assert result["single_frame"]["regressions"] == []  # 0.5 points is below the 1-point threshold
    assert "failed in B" in result["lrcn"]["regressions"][0]
    assert compare.main([str(a), str(b), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "c3d" in out
    # Piped (80 columns): a block per line, one figure a line, whole numbers rather than squeezed cells.
    figures = [line for line in out.splitlines() if line.startswith("  ")]
    assert "  video top-1 %    80.0 → 70.0 (-10.0)" in figures and all(len(line) <= 80 for line in figures)


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
    assert compare.main([a, b, "--fail-on-regression"]) == 0
    assert "within the noise over seeds" in capsys.readouterr().out
    assert compare.main([a, c, "--fail-on-regression"]) == 1
    assert "beyond the noise over seeds" in capsys.readouterr().out
    append_row(tmp_path / "d.jsonl", row("c3d", 0.640))
    append_row(tmp_path / "e.jsonl", row("c3d", 0.628))
    assert compare.main([str(tmp_path / "d.jsonl"), str(tmp_path / "e.jsonl"), "--fail-on-regression"]) == 1
    assert "one seed: judged against --threshold alone" in capsys.readouterr().out
