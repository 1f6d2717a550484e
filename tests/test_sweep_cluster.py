"""Sweeps across machines: shards merged, and jobs submitted with submitit (its local executor: real processes,
real files), give the rows of a sweep run in one place; rows measured on different data are refused."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import sweep_config

from lit_video.results.folder import RESULTS_FILE, ROWS_DIR, append_row, read_rows
from lit_video.results.schema import TIMED_FIELDS
from lit_video.sweep import cli
from lit_video.sweep.config import parse_sweep
from lit_video.sweep.entry import base_row
from lit_video.sweep.merge import RowsDisagree, merge_rows
from lit_video.sweep.runner import Shard, jobs

COST = {"params": 1000, "gmacs_per_clip": 0.5, "gmacs_per_video": 1.0}  # what a done row has beside its accuracy


def two_jobs(root) -> dict:
    """One model that trains and one whose loss turns NaN (a failed row), each its own job."""
    return sweep_config(root, models=["lecture_late_fusion",
                                      {"name": "lecture_early_fusion", "lr": 1.0e30, "warmup_ratio": 0.0}])


def untimed(path) -> dict[str, dict]:
    """The rows of a results file by config hash, without what timing measures (it differs from run to run)."""
    return {row["config_hash"]: {k: v for k, v in row.items() if k not in TIMED_FIELDS} for row in read_rows(path)}


@pytest.mark.integration
def test_shards_and_submitit_jobs_give_the_rows_of_one_sweep(tiny_dataset, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(two_jobs(tiny_dataset)))
    run = lambda out, *flags: cli.main([str(config), "--out", str(tmp_path / out), "--no-wandb", *flags])  # noqa: E731
    assert run("whole") == 1  # the NaN entry failed; the other one went on
    whole = untimed(tmp_path / "whole" / "tiny" / RESULTS_FILE)
    assert sorted(row["status"] for row in whole.values()) == ["failed", "ok"]

    assert run("sharded", "--shard", "1/2") == 0 and run("sharded", "--shard", "2/2") == 1
    sharded = tmp_path / "sharded" / "tiny"
    assert sorted(p.name for p in (sharded / ROWS_DIR).iterdir()) == ["shard-1-of-2.jsonl", "shard-2-of-2.jsonl"]
    assert not (sharded / "leaderboard.md").exists()  # shards write rows only
    assert run("sharded", "--merge") == 1  # merged; exit 1: an entry failed
    assert untimed(sharded / RESULTS_FILE) == whole
    assert "lecture_late_fusion" in (sharded / "leaderboard.md").read_text()
    assert run("sharded", "--merge") == 1 and len(read_rows(sharded / RESULTS_FILE)) == 2  # merging twice adds nothing

    assert run("cluster", "--launcher", "submitit-local") == 1
    cluster = tmp_path / "cluster" / "tiny"
    assert untimed(cluster / RESULTS_FILE) == whole
    assert len(list((cluster / ROWS_DIR).glob("job-*.jsonl"))) == 2  # each job wrote its own rows
    assert list((cluster / "cluster").glob("*/*_log.out"))  # submitit's logs, kept beside the results
    assert "lecture_late_fusion" in (cluster / "leaderboard.md").read_text()
    # Resumed: the done entry is skipped, the failed one is submitted again.
    assert run("cluster", "--launcher", "submitit-local") == 1
    assert len([r for r in read_rows(cluster / RESULTS_FILE) if r["status"] == "ok"]) == 1


def test_shards_are_every_nth_job_whole_and_stable(tiny_dataset):
    sweep = parse_sweep(sweep_config(tiny_dataset, seeds=[0, 1], models=[
        "lecture_late_fusion", "lecture_early_fusion", "lecture_3d_cnn"]))
    grouped = jobs(sweep.entries)
    shards = [Shard.parse(f"{i}/2").select(grouped) for i in (1, 2)]
    assert shards == [[grouped[0], grouped[2]], [grouped[1]]]  # a model's seeds stay together
    assert sorted(e.entry_id for s in shards for job in s for e in job) == sorted(e.entry_id for e in sweep.entries)
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(ValueError, match="I/N"):
            Shard.parse(bad)


def test_merge_refuses_rows_measured_on_different_data_and_leaves_out_other_configs(tiny_dataset, tmp_path,
                                                                                   capsys):
    raw = sweep_config(tiny_dataset, seeds=[0, 1], models=["lecture_late_fusion"])  # two entries, one cheap model
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    sweep = parse_sweep(raw)
    first, second = sweep.entries
    here, elsewhere = sweep.fingerprints["data"], {"videos": 36, "hash": "bbbb"}  # another copy of the data
    out = tmp_path / "out" / "tiny"
    ok = lambda entry, fingerprint: base_row(entry, status="ok", video_top1=0.5, **COST,  # noqa: E731
                                             dataset_fingerprint=fingerprint)
    append_row(out / ROWS_DIR / "shard-1-of-2.jsonl", ok(first, here))
    append_row(out / ROWS_DIR / "shard-2-of-2.jsonl", ok(second, elsewhere))
    other = parse_sweep({**raw, "seeds": [7]}).entries[0]
    append_row(out / ROWS_DIR / "shard-2-of-2.jsonl", ok(other, elsewhere))  # an entry this config does not have
    with pytest.raises(RowsDisagree, match=rf"dataset 'data': 36 videos, hash bbbb in rows/shard-2-of-2.jsonl; 36 "
                                           rf"videos, hash {here['hash']} in rows/shard-1-of-2.jsonl and now"):
        merge_rows(out, sweep)
    assert not (out / RESULTS_FILE).exists()  # nothing written
    assert cli.main([str(config), "--out", str(tmp_path / "out"), "--merge", "--no-wandb"]) == 2
    assert "measured on other data" in capsys.readouterr().err

    append_row(out / ROWS_DIR / "shard-2-of-2.jsonl", ok(second, here))  # rerun on the same data
    (out / ROWS_DIR / "shard-2-of-2.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in read_rows(out / ROWS_DIR / "shard-2-of-2.jsonl")[1:]))
    report = merge_rows(out, sweep)
    assert report.added == 2 and report.other_config == {"shard-2-of-2.jsonl": 1}
    assert {r["config_hash"] for r in read_rows(out / RESULTS_FILE)} == {first.config_hash, second.config_hash}


@pytest.mark.slow
@pytest.mark.integration
def test_a_cluster_job_that_dies_is_a_failed_row_with_its_log_and_the_sweep_goes_on(tiny_dataset, tmp_path):
    """A job at its time limit is stopped by the executor (as SLURM stops it: a signal ahead of the limit, 30 s ahead
    here) before writing its rows: a failed row with submitit's reason and the job's log; the other job's row is
    there as usual. About 40 s."""
    config = sweep_config(tiny_dataset, models=[
        "lecture_late_fusion",
        {"name": "single_frame", "model_args": {"backbone": "shufflenet_v2_x0_5"}, "trainer": {"max_epochs": 1000}}])
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli.main([str(path), "--out", str(tmp_path), "--no-wandb", "--launcher", "submitit-local",
                     "--time-min", "1"]) == 1
    rows = {row["variant"]: row for row in read_rows(tmp_path / "tiny" / RESULTS_FILE)}
    assert rows["lecture_late_fusion"]["status"] == "ok"
    assert rows["single_frame"]["status"] == "failed"
    assert "cluster job" in rows["single_frame"]["error"] and "its log" in rows["single_frame"]["error"]


@pytest.mark.integration
def test_merge_leaves_out_a_bad_row_with_its_file_and_line_and_merges_the_rest(tiny_dataset, tmp_path, capsys):
    """A shard's row edited by hand (video top-1 of 5.0, 500 %) is not ranked first: `--merge` names its file,
    line and what is wrong, and builds the leaderboard of the other rows."""
    raw = sweep_config(tiny_dataset, seeds=[0, 1], models=["lecture_late_fusion"])
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    first, second = parse_sweep(raw).entries
    shard = tmp_path / "out" / "tiny" / ROWS_DIR / "shard-1-of-1.jsonl"
    shard.parent.mkdir(parents=True)
    rows = [base_row(entry, status="ok", video_top1=top1, **COST) for entry, top1 in
            ((first, 0.5), (second, 5.0))]
    shard.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert cli.main([str(config), "--out", str(tmp_path / "out"), "--merge", "--no-wandb"]) == 1  # seed 1: no row
    captured = capsys.readouterr()
    assert f"{shard}:2: video_top1 is 5.0, not a fraction in [0, 1]" in " ".join(captured.err.split())
    assert "merged 1 new row(s)" in captured.out and "could not be written" not in captured.err  # the page too
    assert [r["video_top1"] for r in read_rows(shard.parents[1] / RESULTS_FILE)] == [0.5]
    board = json.loads((shard.parents[1] / "leaderboard.json").read_text())
    assert [(line["seeds"], line["video_top1"]) for line in board] == [(1, 0.5)]
