"""`lit-video profile`: JSON fields of DESIGN.md, tables, --all, errors."""

from __future__ import annotations

import json
import time

import pytest

from lit_video.profiling.cli import main

FIELDS = {"model", "input_shape", "gmacs", "gflops", "params", "counter", "layers"}
THROUGHPUT = {"batch_size", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
              "peak_mem_mb", "mfu", "peak_gflops_per_s", "options"}
LAYER = {"name", "type", "output_shape", "receptive_field", "gmacs", "params"}


def run_json(capsys, argv: list[str]):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_has_the_design_fields(capsys):
    out = run_json(capsys, ["c3d", "--clips", "10", "--crops", "3"])
    assert FIELDS <= set(out) and out["layers"] == []
    assert out["model"] == "c3d" and out["input_shape"] == [1, 3, 16, 112, 112]
    assert out["gflops"] == 2 * out["gmacs"] and out["gmacs"] == pytest.approx(38.53, abs=0.05)
    assert out["eval_views"] == 30 and out["gmacs_per_video"] == pytest.approx(30 * out["gmacs"])


def test_layers_and_throughput(capsys):
    out = run_json(capsys, ["lecture_3d_cnn", "--layers", "--throughput", "--batch-size", "2", "--repeats",
                            "1", "--frames", "8", "--size", "32", "--num-classes", "5"])
    assert out["input_shape"] == [1, 3, 8, 32, 32]
    assert all(LAYER <= set(layer) for layer in out["layers"])
    assert out["layers"][-1]["output_shape"] == [1, 5] and out["layers"][-1]["receptive_field"] == [8, 32, 32]
    assert THROUGHPUT <= set(out["throughput"]) and out["throughput"]["batch_size"] in (1, 2)
    assert out["throughput"]["infer_clips_per_s"] > 0


def test_builder_frames_and_size_reach_the_model(capsys):
    out = run_json(capsys, ["c3d", "--frames", "32", "--size", "64"])
    assert out["input_shape"] == [1, 3, 32, 64, 64]


def test_tables_by_default(capsys):
    assert main(["lecture_late_fusion", "--layers"]) == 0
    text = capsys.readouterr().out
    assert "GMACs / clip" in text and "conv2" in text and "1x14x14" in text


def test_errors_name_the_problem(capsys):
    assert main(["c3dd"]) == 2
    assert "c3dd" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])
    with pytest.raises(SystemExit):
        main(["c3d", "--frames", "0"])
    assert "--frames must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_all_counts_every_model_quickly(capsys):
    start = time.perf_counter()
    rows = run_json(capsys, ["--all"])
    assert time.perf_counter() - start < 30
    from lit_video.models import list_models

    assert [r["model"] for r in rows] == list_models()
    assert all("error" not in r and r["gmacs"] > 0 for r in rows)
