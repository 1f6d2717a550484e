"""`lit-video profile`: the JSON fields docs/flops.md names, tables, --all, errors."""

from __future__ import annotations

import json

import pytest
import torch

from lit_video.machine import cpu_name
from lit_video.memory_format import describe_choice, describe_runs, fastest_memory_format
from lit_video.models import create_model
from lit_video.profiling import cli, inputs, machine_peak_gflops
from lit_video.profiling.cli import main

FIELDS = {"model", "input_shape", "gmacs", "gflops", "params", "counter", "layers"}
THROUGHPUT = {"batch_size", "infer_clips_per_s", "latency_ms_p50", "latency_ms_p95", "train_clips_per_s",
              "peak_mem_mb", "mfu", "peak_gflops_per_s", "options", "mfu_error", "peak_source"}
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


@pytest.mark.integration  # ~3 s: timed throughput and matmul peak
def test_layers_and_throughput(capsys):
    out = run_json(capsys, ["lecture_3d_cnn", "--layers", "--throughput", "--batch-size", "2", "--repeats",
                            "1", "--frames", "8", "--size", "32", "--num-classes", "5"])
    assert out["input_shape"] == [1, 3, 8, 32, 32]
    assert all(LAYER <= set(layer) for layer in out["layers"])
    assert out["layers"][-1]["output_shape"] == [1, 5] and out["layers"][-1]["receptive_field"] == [8, 32, 32]
    assert THROUGHPUT <= set(out["throughput"]) and out["throughput"]["batch_size"] in (1, 2)
    assert out["throughput"]["infer_clips_per_s"] > 0


@pytest.mark.integration  # ~3 s: timed throughput, peak and flow
def test_two_stream_reports_each_streams_gmacs_and_what_its_optical_flow_costs(capsys):
    out = run_json(capsys, ["two_stream", "--frames", "5", "--size", "32", "--model-args", "backbone=cifar_resnet8_s2",
                            "--throughput", "--batch-size", "2", "--repeats", "1"])
    assert out["input_shape"] == {"rgb": [1, 3, 5, 32, 32], "flow": [1, 2, 4, 32, 32]}
    streams = out["stream_gmacs"]
    assert set(streams) == {"rgb", "flow"} and sum(streams.values()) == pytest.approx(out["gmacs"])
    # The flow stream's first conv takes 2 x 4 channels where the spatial stream's takes 3: a little more.
    assert streams["flow"] > streams["rgb"] > 0
    flow = out["flow_cost"]
    assert flow["method"] == "dis" and flow["frame_size"] == [32, 32] and flow["ms_per_pair"] > 0
    assert flow["ms_per_clip"] == pytest.approx(4 * flow["ms_per_pair"])  # 5 frames, 4 pairs
    assert run_json(capsys, ["c3d"])["stream_gmacs"] is None


def test_builder_frames_and_size_reach_the_model(capsys):
    out = run_json(capsys, ["c3d", "--frames", "32", "--size", "64"])
    assert out["input_shape"] == [1, 3, 32, 64, 64]


def test_builder_options_reach_the_model(capsys):
    """I3D R50 as published, and with the lecture's inflation: 28.0 M and 47.0 M parameters (400 classes)."""
    assert run_json(capsys, ["i3d_r50", "--frames", "8", "--size", "32"])["params"] == 28_043_472
    lecture = run_json(capsys, ["i3d_r50", "--frames", "8", "--size", "32", "--model-args", "inflation=3x3x3"])
    assert lecture["params"] == 46_980_944 and lecture["model_args"] == {"inflation": "3x3x3"}
    grus = run_json(capsys, ["conv_gru", "--frames", "4", "--size", "32", "--model-args", "channels=[4, 8]"])
    assert grus["model_args"] == {"channels": [4, 8]} and grus["published_gmacs"] is None
    assert main(["c3d", "--model-args", "depth=3"]) == 2
    assert "does not take depth; it accepts: batch_norm" in capsys.readouterr().err
    for bad in (["c3d", "--model-args", "pool5_padding"], ["--all", "--model-args", "dropout=0"]):
        with pytest.raises(SystemExit):
            main(bad)
    err = capsys.readouterr().err
    assert "takes KEY=VALUE items, got 'pool5_padding'" in err and "--model-args needs one MODEL" in err


def test_a_published_figure_stands_beside_a_count_of_its_own_setup_only(capsys):
    same = run_json(capsys, ["r3d_18"])  # torchvision's figure: 3 x 16 x 112 x 112, 400 classes
    assert same["published_input"] == "3x16x112x112" and same["published_gmacs"] == pytest.approx(40.697)
    assert same["published_params"] == same["params"] and same["published_note"] is None
    assert "5 clip(s) x 1 crop(s) of 16 frames" in same["published_accuracy"]
    other = run_json(capsys, ["r3d_18", "--frames", "8"])
    assert other["published_gmacs"] is None and other["published_source"] is None
    assert other["published_note"] == ("published for 3x16x112x112, 400 classes; not comparable with 3x8x112x112, "
                                       "400 classes")
    # C3D: the lecture's figure is for 487 classes, MMAction2's for 101 with the padded pool5.
    mmaction2 = run_json(capsys, ["c3d", "--num-classes", "101", "--model-args", "pool5_padding=true"])
    assert mmaction2["published_params"] == mmaction2["params"] == 78_409_573
    lecture = run_json(capsys, ["c3d"])
    assert lecture["published_gmacs"] is None
    assert "3x16x112x112, 487 classes; 3x16x112x112, 101 classes, pool5_padding=True" in lecture["published_note"]
    assert main(["r3d_18", "--frames", "8"]) == 0
    assert "comparable" in capsys.readouterr().out  # the table wraps the rest at its own width


def table_rows(text: str) -> list[list[str]]:
    """The cells of a Markdown (pipe) table's rows in ``text``, header and rule left out."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def share(cell: str) -> float:
    """A % cell as a number ("<0.1%" and "" as 0)."""
    return 0.0 if cell in ("", "<0.1%") else float(cell.rstrip("%"))


def test_tables_by_default(capsys, monkeypatch):
    """The layer table in fvcore's form: the total first, every row that costs or pools, its share of the MACs
    (summing to 100), full shapes; all within 80 columns, plain text when piped."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["lecture_late_fusion", "--layers"]) == 0
    text = capsys.readouterr().out
    assert "GMACs / clip" in text and "\x1b" not in text
    assert max(map(len, text.splitlines())) <= 80
    rows = {row[0]: row for row in table_rows(text)}  # module: #params, #MACs, %, output shape, RF
    assert list(rows) == ["model", "conv1", "pool1", "conv2", "pool", "fc"]  # no ReLU, no flatten
    assert rows["model"][1:4] == ["12.952K", "39.823M", "100.0%"]
    assert sum(share(row[3]) for name, row in rows.items() if name != "model") == pytest.approx(100, abs=0.2)
    assert rows["fc"][3] == "<0.1%"  # small, not free
    assert rows["conv2"][4:] == ["1x24x20x16x16", "1x14x14"] and rows["pool1"][1:4] == ["", "", ""]


def test_a_deep_models_layer_table_nests_as_deep_as_fits(capsys):
    """I3D-R50's modules nest five deep: its table goes as deep as the width allows, each module with the sum of
    its submodules, and its total is the model's own count."""
    out = run_json(capsys, ["i3d_r50", "--frames", "8", "--size", "32"])
    row = {**out, "layers": count_layers("i3d_r50", out["input_shape"])}
    narrow, wide = cli.layer_table(row, 80), cli.layer_table(row, 200)
    assert max(map(len, narrow.splitlines())) <= 80 < max(map(len, wide.splitlines()))
    rows, every = ({row[0]: row for row in table_rows(table)} for table in (narrow, wide))
    assert set(rows) < set(every) and "net.layer1.0.conv2" in every
    assert next(iter(rows)) == "model" and rows["model"][3] == "100.0%"
    top = [row for name, row in rows.items() if "." not in name and name != "model"]
    assert sum(share(row[3]) for row in top) == pytest.approx(100, abs=0.2)
    assert sum(share(every[f"net.layer1.{i}"][3]) for i in range(3)) == pytest.approx(share(rows["net.layer1"][3]),
                                                                                     abs=0.2)


def count_layers(name: str, shape: list[int]) -> list[dict]:
    """The JSON layers of a count of ``name`` (on the meta device) at ``shape``."""
    from lit_video.profiling import count_flops

    return [vars(layer) for layer in count_flops(inputs.model_to_count(name, 400), shape).layers]


def test_errors_name_the_problem(capsys):
    assert main(["c3dd"]) == 2
    assert "c3dd" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])
    with pytest.raises(SystemExit):
        main(["c3d", "--frames", "0"])
    assert "--frames must be >= 1" in capsys.readouterr().err
    assert main(["c3d", "--throughput", "--memory-format", "contiguous", "--remeasure-layout"]) == 2
    assert capsys.readouterr().err == ("lit-video profile: remeasure_layout measures again the layout that "
                                       "memory_format auto chooses, but memory_format 'contiguous' names one: leave "
                                       "out one of the two\n")


@pytest.fixture
def built(monkeypatch) -> list[str]:
    """The device of every model ``profile`` builds ("meta": counted without memory)."""
    devices = []
    create = cli.create_model

    def record(*args, **kwargs):
        model = create(*args, **kwargs)
        devices.append(next(model.parameters()).device.type)
        return model

    monkeypatch.setattr(cli, "create_model", record)  # real builds
    monkeypatch.setattr(inputs, "create_model", record)  # builds for counting (model_to_count)
    return devices


@pytest.mark.parametrize("argv,what", [
    (["c3d", "--throughput", "--batch-size", "1000000", "--repeats", "1"], "training at batch 1000000"),
    (["lecture_3d_cnn", "--throughput", "--size", "100000", "--repeats", "1"], "training at batch 8"),
    (["c3d", "--layers", "--size", "20000"], "receptive fields"),
    (["c3d", "--cross-check", "--size", "20000"], "the fvcore cross-check"),
])
def test_what_cannot_fit_says_what_it_needs_and_exits_2(capsys, built, argv, what):
    """Terabytes asked for on a machine with gigabytes: refused from the meta count, nothing real built or run."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert what in err and "needs at least" in err and "GiB is available" in err, err
    assert built == ["meta"]


def test_counting_a_huge_clip_needs_no_memory(capsys, built):
    out = run_json(capsys, ["c3d", "--size", "20000"])  # one clip's input alone would be 77 GB
    assert out["input_shape"] == [1, 3, 16, 20000, 20000] and out["gmacs"] > 1e6 and built == ["meta"]


@pytest.mark.parametrize("argv,message", [
    (["mvit_v2_s", "--frames", "8"], "'mvit_v2_s' takes only clips of 16 frames at 224x224 px (its shape is fixed)"),
    (["mvit_v1_b", "--size", "112", "--throughput"], "'mvit_v1_b' takes only clips of 16 frames at 224x224 px"),
    (["s3d", "--size", "112"], "'s3d' takes clips of at least 14 frames at 224x224 px, not 16 frames at 112x112 px"),
])
def test_a_clip_the_model_does_not_take_names_the_shape(capsys, built, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "real device" not in err, err
    assert built == []  # refused before building anything


@pytest.mark.parametrize("device,message", [
    ("gpu0", "device 'gpu0' is not a device"), ("meta", "speed is measured on cpu or cuda devices"),
    ("cuda:99", "GPU"), *([] if torch.cuda.is_available() else [("cuda", "no CUDA GPU that torch can use")]),
])
def test_a_device_this_machine_lacks_is_a_message(capsys, built, monkeypatch, device, message):
    def count_flops(*args, **kwargs):
        raise AssertionError("counted before the device was checked")

    monkeypatch.setattr(cli, "count_flops", count_flops)
    assert main(["c3d", "--throughput", "--device", device]) == 2
    assert message in capsys.readouterr().err and built == []


@pytest.mark.integration  # ~3 s: three timed throughputs
def test_mfu_above_100_percent_is_reported_as_an_error(capsys, monkeypatch, tmp_path):
    """A stale cached peak (here measured on 4x4 matrices) gives an MFU far above 100%: the CLI prints why it
    reports none. Without --cached-peak the peak is measured in the same run."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")  # rich wraps at the console width
    machine_peak_gflops("cpu", "float32", size=4)
    argv = ["lecture_3d_cnn", "--throughput", "--batch-size", "2", "--repeats", "1", "--frames", "8", "--size",
            "32", "--num-classes", "5"]
    assert main([*argv, "--cached-peak"]) == 0
    text = capsys.readouterr().out
    assert "error (below)" in text and "no MFU: inference reached" in text and "measurement error" in text
    assert "matmul peak cached: measured by an earlier run" in text
    speed = run_json(capsys, [*argv, "--cached-peak"])["throughput"]
    assert speed["mfu"] is None and "no MFU" in speed["mfu_error"]
    speed = run_json(capsys, argv)["throughput"]
    assert speed["peak_source"] == "measured in this run" and 0 < speed["mfu"] <= 1


@pytest.mark.integration  # ~3 s: a timed throughput
def test_the_speed_table_says_what_it_measured_within_80_columns(capsys, monkeypatch):
    """Its title names the model, clip, batch sizes, device, dtype, layout and runs in words (it was a Python
    dict); the peak memory a CPU run adds is a positive number."""
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["lecture_3d_cnn", "--throughput", "--batch-size", "2", "--repeats", "1", "--frames", "8",
                 "--size", "32", "--num-classes", "5", "--memory-format", "contiguous"]) == 0
    text = capsys.readouterr().out
    assert "{" not in text and "\x1b" not in text and max(map(len, text.splitlines())) <= 80
    title = " ".join(text.split())  # rich wraps the title at the console's width
    assert (f"speed of lecture_3d_cnn: clip 3x8x32x32, batch 1 and 2; cpu ({cpu_name()}, "
            f"{torch.get_num_threads()} threads), float32, contiguous; median of 1 runs (2 warm-up)") in title
    cells = [[cell.strip() for cell in line.strip("│").split("│")] for line in text.splitlines()
             if line.startswith("│")]
    speed = next(row for row in cells if len(row) == 8)  # batch, clips/s, ..., peak mem MB, MFU, peak GFLOP/s
    assert speed[0] == "2" and float(speed[5]) > 0
    assert "peak mem: what inference adds to the weights and input" in title


@pytest.mark.integration  # ~2 s: layout choices and timed inference (at batch 1: no training)
def test_the_speed_table_says_which_layout_auto_chose_and_whether_it_was_measured_now(capsys, monkeypatch,
                                                                                      tmp_path):
    """An earlier run's settled choice stands until --remeasure-layout: the title says which layout ran, measured
    now or cached and when, and the caption the times that chose it."""
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    fastest_memory_format(create_model("lecture_3d_cnn", 5, frames=8, size=32), (1, 3, 8, 32, 32))
    cache = tmp_path / "layouts.json"
    (key, earlier), = json.loads(cache.read_text()).items()
    cache.write_text(json.dumps({key: {**earlier, "provisional": False}}))  # as if measured on a quiet machine
    argv = ["lecture_3d_cnn", "--throughput", "--batch-size", "1", "--repeats", "1", "--frames", "8", "--size",
            "32", "--num-classes", "5", "--cached-peak"]
    assert run_json(capsys, argv)["throughput"]["options"]["memory_format_choice"] == {
        **earlier, "provisional": False, "cached": True}
    assert main([*argv, "--remeasure-layout"]) == 0
    text = capsys.readouterr().out
    assert max(map(len, text.splitlines())) <= 80
    choice = json.loads(cache.read_text())[key]
    assert choice["measured_at"] >= earlier["measured_at"] and choice["seconds"] != earlier["seconds"]
    words = " ".join(text.split())  # rich wraps the title and caption at the console's width
    assert f"float32, {choice['memory_format']} ({describe_choice({**choice, 'cached': False})});" in words
    assert describe_runs(choice) in words and "(auto: measured now" in words


@pytest.mark.slow
def test_all_counts_every_model(capsys):
    """Its speed target (under 30 s) is benchmarks/bench_profile_all.py's."""
    rows = run_json(capsys, ["--all"])
    from lit_video.models import list_models

    assert [r["model"] for r in rows] == list_models()
    assert all("error" not in r and r["gmacs"] > 0 for r in rows)
