"""`lit-video sweep`: config validation, and a real sweep end to end (entries in their own processes).

The end-to-end test trains tiny models on the tiny dataset for a few batches: a sweep is started in its own
process and SIGKILLed once its first row lands, then resumed in this process; one entry is made to fail for
real (a learning rate that turns the loss into NaN).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import yaml
from helpers import sweep_config

from lit_video.results.folder import read_rows
from lit_video.results.schema import ROW_FIELDS
from lit_video.sweep import cli
from lit_video.sweep.config import SweepConfigError, load_sweep, parse_sweep
from lit_video.sweep.runner import run_child

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------- validation
def test_config_expands_models_datasets_seeds_with_overrides(tiny_dataset):
    raw = sweep_config(tiny_dataset, seeds=[0, 1], model={"lr": 0.01},
                       models=["slow_fusion", {"name": "single_frame", "data": {"frames": 2}, "lr": 0.1,
                                       "trainer": {"max_epochs": 2}}])
    raw["data"] = [raw["data"], {**raw["data"], "name": "other"}]
    sweep = parse_sweep(raw, "test.yaml")
    assert len(sweep.entries) == 2 * 2 * 2  # models x datasets x seeds
    frame = {(e.name, e.dataset, e.seed): e for e in sweep.entries}
    single = frame[("single_frame", "other", 1)]
    assert single.config["data"]["frames"] == 2 and single.config["model"]["lr"] == 0.1
    assert single.config["trainer"]["max_epochs"] == 2
    assert single.config["seed_everything"] == 1 and single.config["data"]["seed"] == 1  # seeds the data too
    assert frame[("single_frame", "other", 0)].with_seed(1) == single  # the sweep's seeding, one owner
    fixed = parse_sweep({**raw, "data": {**raw["data"][0], "seed": 7}}).entries[0]
    assert fixed.config["data"]["seed"] == fixed.with_seed(1).config["data"]["seed"] == 7  # a fixed data seed stays
    slow = frame[("slow_fusion", tiny_dataset.name, 0)]
    assert slow.config["data"]["frames"] == 4 and slow.config["model"] == {"name": "slow_fusion", "lr": 0.01}
    assert slow.variant == "slow_fusion" and slow.eval_views == 2
    assert len({e.config_hash for e in sweep.entries}) == len(sweep.entries)
    assert parse_sweep(raw, "again").entries[0].config_hash == sweep.entries[0].config_hash  # stable


def test_model_defaults_fill_what_the_sweep_leaves_out(tiny_dataset):
    from lit_video.models import model_info

    raw = sweep_config(None, data={"root": str(tiny_dataset), "name": "synthetic"}, models=["c3d"])
    (entry,) = parse_sweep(raw).entries
    info = model_info("c3d")
    data = entry.config["data"]
    assert (data["frames"], data["size"], data["fps"]) == (info.clip.frames, info.clip.size, info.clip.fps)
    assert entry.dataset == "synthetic"


def test_variants_of_one_model_get_labels(tiny_dataset):
    """An ablation: one model several times, told apart by a label given or derived from its settings."""
    raw = sweep_config(tiny_dataset, models=[
        {"name": "single_frame", "model_args": {"backbone": "shufflenet_v2_x0_5"}},
        {"name": "single_frame", "model_args": {"backbone": "resnet18"}, "lr": 0.01},
        {"name": "single_frame", "label": "frames2", "data": {"frames": 2}},
        "slow_fusion"])
    variants = [e.variant for e in parse_sweep(raw).entries]
    assert variants == ["single_frame[backbone=shufflenet_v2_x0_5]", "single_frame[backbone=resnet18, lr=0.01]",
                        "frames2", "slow_fusion"]
    same_label = sweep_config(tiny_dataset, models=[{"name": "slow_fusion", "label": "x"},
                                                    {"name": "single_frame", "label": "x"}])
    with pytest.raises(SweepConfigError, match=r"models\[0\] and models\[1\] are both labelled 'x'"):
        parse_sweep(same_label)
    same_config = sweep_config(tiny_dataset, models=[{"name": "slow_fusion", "label": "a"},
                                                       {"name": "slow_fusion", "label": "b"}])
    with pytest.raises(SweepConfigError, match="'b' and 'a' .* are the same entry"):
        parse_sweep(same_config)


@pytest.mark.parametrize(("change", "message"), [
    ({"models": ["c3dd"]}, "unknown model 'c3dd'.*c3d"),
    ({"models": [{"name": "c3d", "model_args": {"widht": 2}}]},
     r"models\[0\] \(c3d\): model 'c3d' does not take widht"),
    ({"models": [{"name": "c3d", "lrr": 2}]}, r"models\[0\] \(c3d\): .*does not accept option 'lrr'"),
    ({"data": {"frame": 8}}, "does not accept option 'frame'"),
    ({"data": {"frames": "four"}}, "data.frames"),
    ({"trainer": {"max_epoch": 1}}, "does not accept option 'max_epoch'"),
    ({"trainer": {"default_root_dir": "x"}}, "cannot be set in a sweep"),
    ({"model": {"nme": "c3d"}}, "does not accept option 'nme'"),
    ({"profile": {"repeat": 3}}, "profile: .*repeat"),
    ({"seeds": ["a"]}, "seeds"),
    ({"name": "a/b"}, "folder-safe"),
    ({"models": ["c3d", "c3d"]}, "both labelled 'c3d'"),
    ({"epochs": 3}, "unknown key"),
    ({"parallel": 0}, "`parallel` must be auto or a whole number of jobs >= 1, got 0"),
    ({"parallel": True}, "`parallel` must be"),
    ({"parallel": "all"}, "`parallel` must be auto or a whole number of jobs >= 1, got 'all'"),
    # Found before training, by building the data and the model (on the meta device) of every entry:
    ({"data": {"root": "/no/such/dataset"}}, r"models\[0\] \(lecture_late_fusion\): data: .*/no/such/dataset"),
    ({"models": [{"name": "c3d", "data": {"size": 16}}]}, r"'c3d' takes clips of at least 16 frames at 32x32 px"),
    ({"models": [{"name": "lecture_3d_cnn", "data": {"frames": 2}}]}, "not 2 frames at 32x32 px: change data.frames"),
    ({"model": {"lr": -0.1}}, r"model\.lr must be > 0 \(got -0\.1\)"),
    ({"models": [{"name": "vivit_spatiotemporal", "data": {"size": 36}}]},
     "tubelets of 2 frames x 8 x 8 pixels must tile"),
    ({"task": "segmentation"}, "`task` must be one of classification, got 'segmentation'"),
    ({"data": {"name": "x/../../../../escaped"}}, "data.name 'x/../../../../escaped' must be folder-safe"),
    ({"data": {"name": ".."}}, "must be folder-safe"),
])
def test_bad_configs_are_rejected_before_anything_runs(tiny_dataset, change, message):
    if "data" in change:  # beside the tiny dataset's options: with no root the built-in data is made first (~15 s)
        change = {**change, "data": {**sweep_config(tiny_dataset)["data"], **change["data"]}}
    with pytest.raises(SweepConfigError, match=message):
        parse_sweep(sweep_config(tiny_dataset, **change), "bad.yaml")


def test_a_typo_fails_the_same_way_in_the_cli_and_in_a_sweep(tiny_dataset, tmp_path, capsys):
    """The sweep's model, data and trainer sections are the CLI's, read by the same parser."""
    from lit_video.cli import main

    config = tmp_path / "typo.yaml"
    config.write_text(yaml.safe_dump({"model": {"lrr": 0.1}}))
    message = r"does not accept option '(model\.)?lrr'"  # jsonargparse's words, from the same parser
    assert main(["fit", "--config", str(config), "--data.root", str(tiny_dataset)]) == 2
    assert re.search(message + "; did you mean model.lr?", capsys.readouterr().err)
    with pytest.raises(SweepConfigError, match=message):
        parse_sweep(sweep_config(tiny_dataset, model={"lrr": 0.1}))


def test_cli_exits_2_on_a_bad_config(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tmp_path, models=["no_such_model"])))
    assert cli.main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "no_such_model" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SweepConfigError, match="does not exist"):
        load_sweep(tmp_path / "missing.yaml")


def test_shipped_sweep_configs_are_valid(tiny_dataset):
    """Valid but for their data, which each names by its root: here the tiny dataset stands in."""
    for path in sorted((REPO / "configs" / "sweeps").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        raw["data"] = {**raw["data"], "root": str(tiny_dataset), "format": "auto"}
        assert parse_sweep(raw, str(path)).entries, path
    # As shipped, the Kinetics sweep names a root to replace, and says so before anything runs.
    with pytest.raises(SweepConfigError, match="/path/to/kinetics400"):
        load_sweep(REPO / "configs" / "sweeps" / "kinetics400.yaml")


@pytest.mark.integration
def test_an_entry_past_its_timeout_is_killed_and_recorded_as_failed_its_half_wandb_run_set_aside(tiny_dataset,
                                                                                                  tmp_path):
    """Run again (a resume), an entry whose process was killed before (a timeout, the sweep SIGKILLed) moves the
    wandb run that process left unfinished out of `wandb sync`'s way; a finished entry's run stays where it is."""
    entry = replace(parse_sweep(sweep_config(tiny_dataset)).entries[0], timeout_s=0.5)
    entry_dir = tmp_path / "runs" / entry.entry_id
    wandb_dir = tmp_path / "wandb"
    for run_id in ("whole", "half"):  # what wandb writes offline: a run's folder and its .wandb file
        (wandb_dir / f"offline-run-20250101_000000-{run_id}").mkdir(parents=True)
        (wandb_dir / f"offline-run-20250101_000000-{run_id}" / f"run-{run_id}.wandb").write_bytes(b"W&B")
    entry_dir.mkdir(parents=True)  # the killed process recorded its run as it started, and wrote no result
    (entry_dir / "wandb_run.json").write_text(json.dumps({"dir": "wandb/offline-run-20250101_000000-half",
                                                          "id": "half", "url": None}))
    started = time.monotonic()
    (outcome,) = run_child([entry], tmp_path / "runs", wandb_mode=None)
    assert outcome.status == "failed" and outcome.error.startswith("timed out after 0.5 s")
    assert time.monotonic() - started < 10 and not (entry_dir / "result.json").exists()
    assert (wandb_dir / "unfinished" / "offline-run-20250101_000000-half" / "run-half.wandb").is_file()
    synced = subprocess.run([sys.executable, "-m", "wandb", "sync", "--dry-run", "wandb"], cwd=tmp_path,
                            capture_output=True, text=True, check=True)
    assert "Would sync 1 run(s)" in synced.stderr and "run-whole.wandb" in synced.stderr, synced.stderr


@pytest.mark.integration
def test_an_entry_builds_its_data_and_model_once_and_profiles_the_model_it_trains(tiny_dataset, tmp_path,
                                                                                    monkeypatch):
    import lit_video.data.datamodule
    import lit_video.profiling
    import lit_video.tasks.classification
    from lit_video.sweep.entry import DETAILS_FILE, PREDICTIONS_FILE, run_entry

    data = shutil.copytree(tiny_dataset, tmp_path / "data")
    unreadable = sorted((data / "train").rglob("*.mp4"))[0]
    unreadable.write_bytes(b"not a video")
    entry = parse_sweep(sweep_config(data, models=["lecture_late_fusion"])).entries[0]  # (checks it)
    monkeypatch.chdir(tmp_path)  # where a sweep's skipped-videos list has no business
    built: dict[str, list] = {"annotations": [], "models": [], "profiled": []}

    def counting(name, fn, record=lambda args, result: result):
        def wrapper(*args, **kwargs):
            result = fn(*args, **kwargs)
            built[name].append(record(args, result))
            return result
        return wrapper

    monkeypatch.setattr(lit_video.data.datamodule, "read_annotations",
                        counting("annotations", lit_video.data.datamodule.read_annotations))
    monkeypatch.setattr(lit_video.tasks.classification, "create_model",
                        counting("models", lit_video.tasks.classification.create_model))
    monkeypatch.setattr(lit_video.profiling, "count_flops",
                        counting("profiled", lit_video.profiling.count_flops, lambda args, _: args[0]))
    row, _ = run_entry(entry, tmp_path / "runs" / entry.entry_id, wandb_mode=None)
    assert len(built["annotations"]) == 1 and len(built["models"]) == 1
    assert built["profiled"] == built["models"]  # the very model that trained
    entry_dir = tmp_path / "runs" / entry.entry_id
    timings = json.loads((entry_dir / DETAILS_FILE).read_text())["timings"]
    assert set(timings) == {"build_s", "profile_s", "prepare_s", "loader_s", "fit_s", "test_s"}
    assert all(t > 0 for t in timings.values())
    assert row["status"] == "ok" and row["variant"] == "lecture_late_fusion"
    # The test predictions (the report's confusion matrix) are the very ones the row's video top-1 scores.
    predictions = json.loads((entry_dir / PREDICTIONS_FILE).read_text())
    videos = predictions["videos"]
    assert len(videos) == len(list((data / "test").rglob("*.mp4")))
    assert all((data / v["video"]).is_file() and len(v["top"]) == len(v["probs"]) for v in videos)
    assert sum(v["top"][0] == v["label"] for v in videos) / len(videos) == pytest.approx(row["video_top1"])
    assert row["data_clips_per_s"] > 0  # the training loader's speed, beside the model's
    assert row["memory_format"] in ("contiguous", "channels_last")  # what the fit trained in
    # The unreadable video: counted in the row, listed with its reason in the entry's folder, nowhere else.
    assert not (tmp_path / "skipped_videos.txt").exists()
    assert (entry_dir / "skipped_videos.txt").read_text().startswith(f"{unreadable}\t")
    assert row["skipped_videos"] == 1


@pytest.mark.integration
def test_a_running_shard_keeps_every_writer_but_its_fellow_shards_out(tiny_dataset, tmp_path, capsys):
    """While a shard runs, a whole sweep, a merge and a report of the folder exit 2 naming the shard, and another
    shard may share the folder; SIGKILL frees it."""
    from lit_video.report import cli as report_cli
    from lit_video.results.lock import results_lock

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset, models=["lecture_late_fusion"])))
    out, folder = tmp_path / "results", tmp_path / "results" / "tiny"
    command = [sys.executable, "-m", "lit_video.sweep.cli", str(path), "--out", str(out), "--no-wandb"]
    shard = subprocess.Popen([*command, "--shard", "1/2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = folder / ".lock-shard-1-of-2"
    try:
        deadline = time.monotonic() + 120
        while not (lock.is_file() and f"pid {shard.pid}" in lock.read_text()):
            assert shard.poll() is None and time.monotonic() < deadline, "the shard never took the folder"
            time.sleep(0.1)
        for writer in (lambda: cli.main([str(path), "--out", str(out), "--no-wandb"]),
                       lambda: cli.main([str(path), "--out", str(out), "--no-wandb", "--merge"]),
                       lambda: report_cli.main(["html", str(folder)])):
            assert writer() == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "is in use by lit-video sweep --shard 1/2" in err
            assert f"pid {shard.pid}" in err
        assert not (folder / "results.jsonl").exists()
        with results_lock(folder, "lit-video sweep --shard 2/2", shard="shard-2-of-2"):  # shards share it
            pass
    finally:
        shard.send_signal(signal.SIGKILL)
        shard.wait()
    with results_lock(folder, "lit-video sweep"):  # the kernel dropped the dead shard's locks
        assert f"pid {os.getpid()}" in (folder / ".lock").read_text()


def test_a_writer_that_has_the_folder_alone_shuts_out_every_other(tmp_path):
    """A whole sweep (or a merge, or a report) and shards, as they take the folder: each lock a file handle of its
    own, as in separate processes."""
    from lit_video.results.lock import ResultsFolderBusy, results_lock

    with results_lock(tmp_path, "lit-video sweep"):
        for shard in (None, "shard-1-of-2"):
            with pytest.raises(ResultsFolderBusy, match=rf"^results folder {re.escape(str(tmp_path))} is in use by "
                                                        r"lit-video sweep \(pid \d+ on .*; wait for it to finish or "
                                                        "give another --out$"):
                with results_lock(tmp_path, "lit-video sweep --merge", shard=shard):
                    pass
    with results_lock(tmp_path, "lit-video sweep --shard 1/2", shard="shard-1-of-2"), \
            results_lock(tmp_path, "lit-video sweep --shard 2/2", shard="shard-2-of-2"):
        with pytest.raises(ResultsFolderBusy, match=r"in use by lit-video sweep --shard 1/2 \(pid .*\); "
                                                    r"lit-video sweep --shard 2/2 \(pid "):
            with results_lock(tmp_path, "lit-video report html"):
                pass
        with pytest.raises(ResultsFolderBusy, match=r"in use by lit-video sweep --shard 1/2 \(pid"):
            with results_lock(tmp_path, "lit-video sweep --shard 1/2", shard="shard-1-of-2"):  # started twice
                pass
    with results_lock(tmp_path, "lit-video report html"):  # every lock released
        pass


def test_an_empty_or_malformed_shard_is_an_error(tiny_dataset, tmp_path, capsys):
    """``--shard "$SHARD"`` with SHARD unset runs nothing (it used to run the whole sweep)."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset, models=["lecture_late_fusion"])))
    for bad in ("", "1/2/3"):
        with pytest.raises(SystemExit) as exited:
            cli.main([str(path), "--out", str(tmp_path), "--no-wandb", "--shard", bad])
        assert exited.value.code == 2
        assert f"--shard {bad!r}: give I/N with 1 <= I <= N" in capsys.readouterr().err
    assert not (tmp_path / "tiny").exists()


@pytest.mark.integration
def test_rows_of_other_data_stop_a_sweep_before_any_entry_then_can_be_set_aside(tiny_dataset, tmp_path, capsys):
    """The folder holds a row measured on the data as it was (another fingerprint): the sweep exits 2 before any
    entry starts, saying what changed and the ways out; ``--set-aside-old-rows`` moves that row and its entry's
    folder into a dated folder of their own, and the folder is free again."""
    from lit_video.results.folder import ResultsFolder, append_row
    from lit_video.sweep.entry import base_row

    raw = sweep_config(tiny_dataset, seeds=[0, 1], models=["lecture_late_fusion"])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    first = parse_sweep(raw).entries[0]
    folder = ResultsFolder(tmp_path / "out" / "tiny")
    old = base_row(first, status="ok", video_top1=0.5, params=1000, gmacs_per_clip=0.5, gmacs_per_video=1.0,
                   dataset_fingerprint={"videos": 24, "hash": "aaaa"})
    append_row(folder.results_file, old)
    (folder.entry_dir(old)).mkdir(parents=True)
    (folder.entry_dir(old) / "details.json").write_text("{}")
    run = lambda *flags: cli.main([str(path), "--out", str(tmp_path / "out"), "--no-wandb", *flags])  # noqa: E731

    assert run() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "dataset 'data': 24 videos, hash aaaa in results.jsonl; 36 videos, hash " in err and " now" in err
    assert "another --out" in err and "--set-aside-old-rows" in err
    assert read_rows(folder.results_file) == [old] and sorted(p.name for p in folder.runs_dir.iterdir()) == [
        folder.entry_dir(old).name]  # no entry started

    with open(folder.results_file, "a") as rows:
        rows.write('{"model": "cut short\n')  # a bad line: a person's to mend, never deleted by setting rows aside
    assert run("--merge", "--set-aside-old-rows") == 1  # set aside, then merged: no entry is done now
    (aside,) = folder.path.glob("set-aside-*")
    assert read_rows(aside / "results.jsonl") == [old]
    assert (ResultsFolder(aside).entry_dir(old) / "details.json").is_file()
    assert read_rows(folder.results_file) == [] and not folder.entry_dir(old).exists()
    assert folder.results_file.read_text() == '{"model": "cut short\n'
    assert f"set aside 1 row measured on other data (and 1 entry folder) in {aside}\n" in capsys.readouterr().out
    assert run("--merge") == 1  # nothing of the other data is left to refuse


def test_one_dataset_label_on_two_different_data_is_refused(tiny_dataset, tmp_path):
    """Two items whose data share a label but not their videos would train, then fail to share a leaderboard."""
    copy = tmp_path / "data"
    shutil.copytree(tiny_dataset, copy)
    train = copy / "annotations" / "train.csv"
    train.write_text("".join(train.read_text().splitlines(keepends=True)[:-1]))  # one video fewer
    raw = sweep_config(tiny_dataset, models=["lecture_late_fusion", {"name": "lecture_early_fusion",
                                                                     "data": {"root": str(copy)}}])
    with pytest.raises(SweepConfigError, match=r"models\[1\] \(lecture_early_fusion\): dataset 'data' here is 35 "
                                               r"videos, hash \w+; models\[0\]'s is 36 videos, hash \w+: give one "
                                               r"of them another data.name"):
        parse_sweep(raw, "two.yaml")


@pytest.mark.integration
def test_a_resumed_sweep_logs_the_leaderboard_run_a_kill_left_unlogged(tiny_dataset, tmp_path):
    """Rows all there but no leaderboard run (killed after the last row): the resumed sweep logs it, once."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset, models=["lecture_late_fusion"])))
    out = tmp_path / "results"
    assert cli.main([str(path), "--out", str(out), "--no-wandb"]) == 0  # every row, no wandb run at all
    runs = lambda: sorted((out / "tiny" / "wandb").glob("offline-run-*"))  # noqa: E731
    assert not runs()
    assert cli.main([str(path), "--out", str(out)]) == 0  # nothing left to run: only the leaderboard run
    assert len(runs()) == 1
    assert cli.main([str(path), "--out", str(out)]) == 0  # the same board: not logged again
    assert len(runs()) == 1


@pytest.mark.integration
def test_a_profile_only_entry_measures_cost_and_claims_no_accuracy(tiny_dataset, tmp_path):
    from lit_video.sweep.entry import run_entry

    raw = sweep_config(tiny_dataset, models=[{"name": "lecture_3d_cnn", "profile_only": True}])
    (entry,) = parse_sweep(raw).entries
    assert not entry.train
    trained = parse_sweep(sweep_config(tiny_dataset, models=["lecture_3d_cnn"])).entries[0]
    assert trained.config == entry.config and trained.config_hash != entry.config_hash
    row, _ = run_entry(entry, tmp_path / "runs" / entry.entry_id, wandb_mode=None)
    assert row["status"] == "profiled" and row["params"] > 0 and row["gmacs_per_clip"] > 0
    assert row["infer_clips_per_s"] > 0 and row["dataset_fingerprint"]["videos"] > 0
    assert row["video_top1"] is None and row["clip_top1"] is None and row["train_time_s"] is None
    assert not list((tmp_path / "runs").rglob("metrics.csv"))  # nothing trained, nothing tested
    with pytest.raises(SweepConfigError, match="profile_only must be true or false"):
        parse_sweep(sweep_config(tiny_dataset, models=[{"name": "lecture_3d_cnn", "profile_only": "yes"}]))


# Each job of a `parallel: 2` sweep (the finished sweep, conftest.py) fits on its share of the cores.
PARALLEL_THREADS = max(1, (os.cpu_count() or 1) // 2)


@pytest.fixture(scope="module")
def lone_second_seed(finished_sweep_config, tmp_path_factory) -> dict:
    """The row of lecture_late_fusion's seed 1 of the finished sweep, run alone in a process of its own on as many
    threads as the sweep's jobs had."""
    (entry,) = [e for e in load_sweep(finished_sweep_config).entries
                if (e.variant, e.seed) == ("lecture_late_fusion", 1)]
    (alone,) = run_child([entry], tmp_path_factory.mktemp("alone"), wandb_mode=None, threads=PARALLEL_THREADS)
    assert alone.status == "ok", alone.error
    return alone.row


@pytest.mark.integration
def test_the_seeds_of_a_model_run_as_one_job_profiled_once_with_the_numbers_of_separate_runs(finished_sweep_config,
                                                                                                lone_second_seed,
                                                                                                tmp_path):
    from lit_video.sweep.runner import jobs

    grouped = jobs(load_sweep(finished_sweep_config).entries)
    assert [[(e.variant, e.seed) for e in job] for job in grouped] == [
        [("single_frame", 0), ("single_frame", 1)], [("lecture_late_fusion", 0), ("lecture_late_fusion", 1)],
        [("lecture_3d_cnn", 0)], [("lecture_early_fusion", 0), ("lecture_early_fusion", 1)]]  # cost has no seed
    job = grouped[1]
    together = run_child(job, tmp_path / "together", wandb_mode=None, threads=PARALLEL_THREADS)
    assert [o.status for o in together] == ["ok", "ok"]
    first, second = (o.row for o in together)
    assert second["seed"] == 1 and second["params"] == first["params"]
    assert second["infer_clips_per_s"] == first["infer_clips_per_s"]  # measured once, by the first seed
    timings = json.loads((tmp_path / "together" / job[1].entry_id / "details.json").read_text())["timings"]
    assert timings["profile_s"] == 0 and timings["fit_s"] > 0
    # Sharing a process changes no number: seed 1 after seed 0 is seed 1 run on its own.
    for field in ("video_top1", "clip_top1", "group_acc"):
        assert second[field] == lone_second_seed[field], field


@pytest.mark.integration
def test_a_parallel_sweep_profiles_alone_then_trains_side_by_side_with_the_numbers_of_a_lone_run(finished_sweep,
                                                                                                 finished_sweep_config,
                                                                                                 lone_second_seed):
    """The finished sweep ran with `parallel: 2` and exited 1 (conftest.py): its NaN entry failed, the others went
    on."""
    assert load_sweep(finished_sweep_config).parallel == 2
    rows = {(r["variant"], r["seed"]): r for r in read_rows(finished_sweep / "results.jsonl")}
    assert {k: r["status"] for k, r in rows.items()} == {
        ("single_frame", 0): "ok", ("single_frame", 1): "ok",
        ("lecture_late_fusion", 0): "ok", ("lecture_late_fusion", 1): "ok", ("lecture_3d_cnn", 0): "profiled",
        ("lecture_early_fusion", 0): "failed", ("lecture_early_fusion", 1): "failed"}
    assert "nan" in rows[("lecture_early_fusion", 1)]["error"].lower()
    first, second = rows[("lecture_late_fusion", 0)], rows[("lecture_late_fusion", 1)]
    assert first["train_threads"] == second["train_threads"] == PARALLEL_THREADS
    assert first["infer_clips_per_s"] == second["infer_clips_per_s"] > 0  # measured once, in the profile phase
    assert f"Fits (train s) ran with {PARALLEL_THREADS} torch thread(s) each" in (
        finished_sweep / "leaderboard.md").read_text()
    # Every model was profiled before any trained.
    runs = finished_sweep / "runs"
    profiled = max(p.stat().st_mtime for p in [*runs.glob("*/profile.json"), *runs.glob("*/result.json")]
                   if "lecture_3d_cnn" in str(p) or p.name == "profile.json")
    assert profiled <= min(p.stat().st_mtime for p in runs.glob("*/spec.json") if "lecture_3d_cnn" not in str(p))
    # Side by side on PARALLEL_THREADS threads, a model learns what it learns alone on as many.
    for field in ("video_top1", "clip_top1", "group_acc"):
        assert lone_second_seed[field] == second[field], field


# --------------------------------------------------------------------------------------------- end to end
def _wait_for_rows(path: Path, n: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(read_rows(path)) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the sweep ended (exit {proc.returncode}) before writing {n} row(s)")
        time.sleep(0.2)
    pytest.fail(f"no row in {path} after {timeout} s")


# About a minute on 2 idle cores (four entry processes, each importing torch and Lightning), yet in the default
# suite: it is the one test of the main job's whole path (kill, resume, failure, tables, plots, wandb).
@pytest.mark.integration
def test_sweep_end_to_end_kill_resume_failure_tables_plots_wandb(tiny_dataset, tmp_path, capfd):
    config = sweep_config(tiny_dataset)
    # Third entry fails for real: this learning rate blows the weights up and the loss turns NaN.
    config["models"].append({"name": "lecture_early_fusion",
                             "lr": 1.0e30, "warmup_ratio": 0.0})
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "results"
    results = out / "tiny" / "results.jsonl"

    # 1. A sweep in its own process, SIGKILLed as soon as its first entry is recorded.
    command = [sys.executable, "-m", "lit_video.sweep.cli", str(path), "--out", str(out), "--no-wandb"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_rows(results, 1, proc, timeout=240)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first = read_rows(results)
    assert len(first) == 1 and first[0]["model"] == "lecture_late_fusion" and first[0]["status"] == "ok"

    # 2. Resume: the recorded entry is skipped, the others run; one fails, so the sweep exits 1 and names it.
    # Piped, it prints plain lines: one for the skipped entries, one per finished entry, the useful ones last.
    capfd.readouterr()
    assert cli.main([str(path), "--out", str(out)]) == 1
    printed = capfd.readouterr().out
    lines = printed.splitlines()
    assert "\x1b" not in printed, printed
    assert all(len(line) <= 80 for line in lines if str(out) not in line), printed  # a path stays whole, to copy
    assert [line for line in lines if "already done" in line] == [
        "1 entry already done, skipped (--no-resume runs them again)"]
    finished = [line for line in lines if line.split(" ", 1)[0] in ("ok", "failed")]
    assert len(finished) == 2, printed
    started = [line for line in lines if line.startswith("started ")]  # one a job, before its entries' lines
    assert len(started) == 2 and lines.index(started[0]) < lines.index(finished[0]), printed
    assert re.fullmatch(r"started +single_frame\S* on data, seed 0 \(running\)", started[0])
    assert re.fullmatch(r"ok +single_frame\S* on data, seed 0 +video top-1 +[\d.]+ % +0:\d\d:\d\d", finished[0])
    assert re.match(r"failed +lecture_early_fusion on data, seed 0 +0:\d\d:\d\d +FloatingPointError", finished[1])
    assert re.fullmatch(r"sweep tiny: 1 done, 1 failed, 1 skipped in 0:\d\d:\d\d", lines[-3])
    assert lines[-2:] == [f"leaderboard: {out / 'tiny' / 'leaderboard.md'}",
                          f"report: {out / 'tiny' / 'index.html'} (open it in a browser)"]

    rows = read_rows(results)
    assert [r["model"] for r in rows] == ["lecture_late_fusion", "single_frame", "lecture_early_fusion"]
    assert [r["variant"] for r in rows] == [r["model"] for r in rows]  # one variant of each model
    assert rows[0] == first[0]  # not rerun
    for row in rows:
        assert list(row) == list(ROW_FIELDS)
        assert row["versions"]["torch"] and row["device"].startswith("cpu") and row["config_hash"]
    for row in rows[:2]:
        assert row["status"] == "ok" and row["error"] is None
        assert 0.0 <= row["video_top1"] <= 1.0 and row["eval_views"] == 2
        assert row["gmacs_per_clip"] > 0
        assert row["gmacs_per_video"] == pytest.approx(2 * row["gmacs_per_clip"])  # 2 eval views
        assert row["params"] > 0 and row["infer_clips_per_s"] > 0
        assert row["latency_ms_p95"] >= row["latency_ms_p50"] > 0
        assert row["dataset_fingerprint"]["videos"] > 0 and set(row["group_acc"]) == {"appearance", "direction"}
    failed = rows[2]
    assert failed["status"] == "failed" and "nan" in failed["error"].lower() and failed["video_top1"] is None

    sweep_dir = out / "tiny"
    board = json.loads((sweep_dir / "leaderboard.json").read_text())
    assert {line["model"] for line in board} == {"lecture_late_fusion", "single_frame",
                                                 "lecture_early_fusion"}
    assert board[-1]["status"] == "failed"
    md = (sweep_dir / "leaderboard.md").read_text()
    assert "single_frame" in md and "GMACs/video" in md and "Failed entries" in md
    assert (sweep_dir / "leaderboard.csv").read_text().startswith("rank,model,")
    for plot in ("accuracy_vs_gmacs.png", "throughput_vs_gmacs.png", "group_accuracy.png"):
        assert (sweep_dir / plot).read_bytes().startswith(b"\x89PNG")
    # Offline wandb, no account needed: a run per entry run in this invocation (the failed one too) and one
    # for the leaderboard.
    runs = sorted((sweep_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 3 and all(list(run.glob("*.wandb")) for run in runs)
    # An entry's details name its wandb run (the HTML report shows the path): single_frame's here (the first entry
    # ran without wandb; the failed one wrote no details).
    named = {w["dir"] for d in (sweep_dir / "runs").glob("*/details.json") if (w := json.loads(d.read_text())["wandb"])}
    assert len(named) == 1 and named <= {str(run.relative_to(sweep_dir)) for run in runs}
    assert not list(sweep_dir.glob(".tmp-*"))  # what the killed sweep was writing was cleaned up



@pytest.fixture
def one_core():
    """This process pinned to one of its cores (a cpuset, as SLURM or a container gives), then set free again."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    yield
    os.sched_setaffinity(0, cores)


def test_parallel_auto_takes_a_job_per_core_and_no_more_than_the_models(tiny_dataset):
    """On this machine's cores (its affinity: what the runner divides into threads), capped by the two models."""
    from lit_video.machine import usable_cores

    cores = usable_cores()
    sweep = parse_sweep(sweep_config(tiny_dataset, seeds=[0, 1], parallel="auto"), "auto.yaml")
    jobs = min(cores, 2)
    assert sweep.parallel == jobs and len(sweep.entries) == 4
    assert sweep.auto == (f"parallel: auto -> {jobs} job{'s' * (jobs > 1)} at once, {cores // jobs} "
                          f"thread{'s' * (cores // jobs > 1)} each ({cores} core{'s' * (cores > 1)}, 2 models to "
                          "train)")
    one = parse_sweep(sweep_config(tiny_dataset, parallel="auto", models=["lecture_late_fusion"]), "auto.yaml")
    assert one.parallel == 1 and f"1 job at once, {cores} thread" in one.auto  # the one model gets every core
    assert parse_sweep(sweep_config(tiny_dataset, parallel=2), "fixed.yaml").auto is None


def test_parallel_auto_on_one_core_runs_one_job_and_says_so(tiny_dataset, tmp_path, one_core, capsys):
    """What it chose is printed before the sweep starts (here the results folder is busy, so nothing runs)."""
    from lit_video.results.lock import results_lock

    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset, parallel="auto")))
    assert load_sweep(path).parallel == 1
    (tmp_path / "out" / "tiny").mkdir(parents=True)
    with results_lock(tmp_path / "out" / "tiny", "lit-video sweep"):
        assert cli.main([str(path), "--out", str(tmp_path / "out"), "--no-wandb"]) == 2
    printed = capsys.readouterr()
    assert printed.out == "parallel: auto -> 1 job at once, 1 thread each (1 core, 2 models to train)\n"
    assert "is in use by lit-video sweep" in printed.err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU: an accelerator trains one model at a time")
def test_parallel_auto_on_a_gpu_runs_one_job(tiny_dataset):
    sweep = parse_sweep(sweep_config(tiny_dataset, parallel="auto", trainer={
        **sweep_config(tiny_dataset)["trainer"], "accelerator": "gpu"}), "gpu.yaml")
    assert sweep.parallel == 1 and sweep.auto.endswith("(lecture_late_fusion and others on an accelerator)")


def test_the_live_status_counts_finished_entries_whatever_order_jobs_run_in_in_80_columns(tiny_dataset):
    """Parallel jobs run longest first, not in config order: the bar counts what has finished (it showed a
    job's place in the config, "3/40 entries   ok 31"). The status area fits 80 columns, its bar apart from its
    counts (they ran together: "━━━━1/2 entries   ok 1   fail"), a running job's name cut rather than wrapped."""
    from rich.console import Console

    from lit_video.sweep.runner import SweepProgress

    raw = sweep_config(tiny_dataset, seeds=[0, 1, 2], parallel=2)
    raw["models"][1] = {"name": "single_frame", "label": "a-label-long-enough-to-need-cutting-" * 3}
    sweep = parse_sweep(raw, "test.yaml")
    console = Console(record=True, width=80, force_terminal=True)
    progress = SweepProgress(sweep, console)
    progress.done, progress.failed, progress.skipped = 2, 1, 1
    progress.durations = [10.0] * 3
    progress.started(sweep.entries[-2:], "training, 1 thread")
    console.print(progress)
    bar, counts, running = console.export_text().splitlines()
    assert progress.finished == 4 and bar.endswith(" 4/6 entries  ETA 0:00:10")  # 2 left at 10 s, 2 at a time
    assert bar.startswith("━") and "━ 4/6" in bar
    assert counts.startswith("sweep tiny: ok 2  failed 1  skipped 1  elapsed 0:00:0")
    assert running.startswith("  a-label-long-enough") and running.endswith("… training, 1 thread 0:00:00")
    assert max(len(bar), len(counts), len(running)) <= 80


def test_a_finished_entry_is_one_line_that_fits_80_columns_its_result_and_time_kept(tiny_dataset):
    from lit_video.sweep.runner import entry_line

    long = parse_sweep(sweep_config(tiny_dataset, models=[{"name": "single_frame", "label": "x" * 90}])).entries[0]
    ok = entry_line(long, {"status": "ok", "video_top1": 0.5}, 75.2, 80)
    assert len(ok) == 80 and ok.startswith("ok       xxx")
    assert ok.endswith("…, seed 0  video top-1 50.0 %  0:01:15")  # the label cut, the seed kept
    short = parse_sweep(sweep_config(tiny_dataset, models=["lecture_3d_cnn"])).entries[0]
    assert entry_line(short, {"status": "profiled", "gmacs_per_video": 1.25}, 3, 80) == (
        "profiled lecture_3d_cnn on data, seed 0  1.250 GMACs/video  0:00:03")
    failed = entry_line(short, {"status": "failed", "error": "ValueError: " + "why " * 40 + "\ntraceback"}, 3, 80)
    assert len(failed) == 80 and failed.startswith("failed   lecture_3d_cnn on data, seed 0  0:00:03  ValueError: why")


def test_an_entry_whose_row_the_schema_refuses_is_failed_with_the_reason_and_nothing_bad_is_written(tiny_dataset,
                                                                                                    tmp_path):
    """A NaN accuracy from an entry's test is not written (JSON has no NaN; the leaderboard's statistics would
    crash on it): the entry fails, saying why, and the sweep goes on."""
    from lit_video.results.folder import append_row
    from lit_video.sweep.entry import base_row
    from lit_video.sweep.jobs import Outcome, finished_rows

    (entry,) = parse_sweep(sweep_config(tiny_dataset, models=["lecture_3d_cnn"])).entries
    bad = base_row(entry, status="ok", video_top1=float("nan"), params=1000, gmacs_per_clip=0.5, gmacs_per_video=1.0)
    (row,) = finished_rows([entry], [Outcome("ok", row=bad)], tmp_path, None)
    assert row["status"] == "failed" and row["video_top1"] is None
    assert row["error"].startswith("the entry's row was refused: video_top1 is NaN, not a fraction in [0, 1]")
    append_row(tmp_path / "results.jsonl", row)
    assert read_rows(tmp_path / "results.jsonl") == [row]


@pytest.mark.integration
def test_ctrl_c_keeps_the_finished_rows_and_says_how_to_resume(tiny_dataset, tmp_path):
    """SIGINT (Ctrl-C) while the second job runs: the sweep kills it, says what it kept and the command that goes
    on from there, and exits 130."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(sweep_config(tiny_dataset)))
    out = tmp_path / "results"
    command = [sys.executable, "-m", "lit_video.sweep.cli", str(path), "--out", str(out), "--no-wandb"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_rows(out / "tiny" / "results.jsonl", 1, proc, timeout=240)
        proc.send_signal(signal.SIGINT)
        printed, errors = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, errors
    assert "Traceback" not in errors and "\x1b" not in printed
    assert printed.splitlines()[-3:] == [
        "interrupted: the running entries are lost; the finished ones are kept:",
        f"  1 row (1 from this run) in {out / 'tiny' / 'results.jsonl'}",
        f"resume with: lit-video sweep {path} --out {out} --no-wandb"]
    assert [row["model"] for row in read_rows(out / "tiny" / "results.jsonl")] == ["lecture_late_fusion"]
    assert not list((out / "tiny" / "runs").glob("single_frame*/result.json"))  # killed before it finished
