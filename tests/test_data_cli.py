"""``lit-video data synth``, ``check`` and ``flow`` through ``lit_video.data.cli.main``."""

import shutil

import numpy as np
import pytest

from lit_video.data.annotations import read_annotations
from lit_video.data.cli import main
from lit_video.data.decode import probe_video
from lit_video.data.flow import flow_cache_file, flow_gaps


def test_synth_writes_a_dataset_that_checks_clean(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--out", str(out), "--groups", "order", "--videos-per-class", "2", "--frames", "8",
                 "--size", "16", "--fps", "10", "20", "--seed", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()  # piped: a progress line (not one per video), then the total
    assert printed[0].startswith("synthetic data: 8/8 videos (100 %), 0:00:")
    assert printed[1:] == [f"wrote 8 videos to {out} in {printed[1].rsplit(' ', 2)[1]} s"]  # 2+1+1 per class
    assert len(list(out.rglob("*.mp4"))) == 8
    assert main(["check", str(out)]) == 0
    assert "8 videos checked, 2 classes, 0 problems" in capsys.readouterr().out


def test_check_lists_unreadable_videos_with_reasons(tiny_dataset, tmp_path, capsys):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    videos = sorted(root.rglob("*.mp4"))
    videos[0].write_bytes(b"")
    videos[1].write_text("hello")
    videos[2].unlink()
    assert main(["check", str(root), "--backend", "pyav"]) == 1
    out = capsys.readouterr().out
    assert "3 problems" in out and "empty file" in out and "Invalid data" in out and "no video file" in out
    assert videos[0].name in out and videos[1].name in out and videos[2].stem in out


def test_bad_arguments_give_a_message(tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().out


def test_check_fails_on_an_empty_or_missing_split_and_on_no_videos(tiny_dataset, tmp_path, capsys):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    test_csv = root / "annotations" / "test.csv"
    test_csv.write_text("label,youtube_id,time_start,time_end,split\n")  # header only
    assert main(["check", str(root), "--backend", "pyav"]) == 1
    out = capsys.readouterr().out
    assert f"split {test_csv}: the test split is empty: it lists no videos" in out and "1 problems" in out
    test_csv.unlink()
    assert main(["check", str(root), "--backend", "pyav"]) == 1
    assert f"split {test_csv}: no test split: the file is missing" in capsys.readouterr().out
    # Asked for explicitly, testing on the validation videos is no problem.
    assert main(["check", str(root), "--backend", "pyav", "--test-split", "val"]) == 0
    assert "24 videos checked, 4 classes, 0 problems" in capsys.readouterr().out

    empty = tmp_path / "empty"
    (empty / "annotations").mkdir(parents=True)
    for split in ("train", "val", "test"):
        (empty / "annotations" / f"{split}.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    assert main(["check", str(empty)]) == 1
    out = capsys.readouterr().out
    assert f"empty {empty}: no videos found" in out and "0 videos checked" in out and "0 problems" not in out


def test_check_lists_videos_listed_twice(tiny_dataset, tmp_path, capsys):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    train_row = (root / "annotations" / "train.csv").read_text().splitlines()[1]
    with open(root / "annotations" / "test.csv", "a") as f:
        f.write(train_row.rsplit(",", 1)[0] + ",test\n")
    assert main(["check", str(root), "--backend", "pyav"]) == 1
    out = capsys.readouterr().out
    assert "duplicate " in out and "the same video is listed in train and test" in out and "1 problems" in out


@pytest.mark.parametrize("case", ["not_utf8", "class_index", "classes_json", "classes_json_shape"])
def test_unreadable_annotation_files_give_one_line_with_file_and_line(tiny_dataset, indexed_videos, tmp_path,
                                                                      capsys, case):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    ann = root / "annotations"
    if case == "not_utf8":
        file, line = ann / "train.csv", 3
        rows = (ann / "train.csv").read_bytes().splitlines(keepends=True)
        file.write_bytes(b"".join(rows[:2]) + b"caf\xe9,abc,0,1,train\r\n" + b"".join(rows[2:]))
        expected = "not UTF-8 text (byte 0xe9)"
    elif case == "class_index":
        root = tmp_path / "ucf"
        for cls in ("Archery", "Bowling"):
            shutil.copytree(tiny_dataset / "train" / "solid", root / cls)
        file, line = root / "classInd.txt", 2
        file.write_text("1 Archery\n2\n")
        (root / "trainlist01.txt").write_text("Archery/x.mp4 1\n")
        expected = "expected '<index> <class name>', got '2'"
    elif case == "classes_json":
        file, line = ann / "classes.json", 3
        file.write_text('{"classes": [\n  "solid",\n  ]\n}\n')
        expected = "not valid JSON"
    else:
        file, line = ann / "classes.json", 1
        file.write_text('{"classes": "solid"}\n')
        expected = '"classes" must be a list of class names'
    assert main(["check", str(root)]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"error: {file}:{line}: {expected}") and len(out.splitlines()) == 1


@pytest.mark.integration  # ~4 s: the flow of 36 videos, in worker processes
def test_flow_fills_the_cache_resumes_and_lists_unreadable_videos(tiny_dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path / "cache"))  # a cache of this test's own
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    videos = sorted(root.rglob("*.mp4"))
    videos[0].write_text("hello")
    assert main(["flow", str(root), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    line = " ".join(out.split())  # the summary, wrapped at 80 columns, as one line
    total = len(videos)
    progress = [line for line in out.splitlines() if line.startswith("optical flow: ")]  # piped: plain lines, few
    assert 1 <= len(progress) <= 10 and progress[-1].startswith(f"optical flow: {total}/{total} videos (100 %)")
    assert f"{total} videos: flow computed for {total - 1}, recomputed 0, already cached 0, unreadable 1 (dis" in line
    assert f"unreadable {videos[0]}" in out
    assert len(list((tmp_path / "cache" / "flow").glob("*.npy"))) == total - 1
    shutil.copy(tiny_dataset / videos[0].relative_to(root), videos[0])  # repaired: only it is computed now
    np.save(flow_cache_file(videos[1]), np.zeros((3, 2, 8, 8), np.uint8))  # a valid .npy, not this video's flow
    assert main(["flow", str(root), "--workers", "1"]) == 0
    assert (f"flow computed for 1, recomputed 1 (wrong shape 1), already cached {total - 2}, unreadable 0"
            in " ".join(capsys.readouterr().out.split()))
    assert np.load(flow_cache_file(videos[1])).shape[2:] == (32, 32)
    assert main(["flow", str(root), "--workers", "0"]) == 2
    assert "--workers must be >= 1, got 0" in capsys.readouterr().out


def test_flow_for_clips_at_a_frame_rate_stores_the_gaps_those_clips_step_by(tiny_dataset, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.setenv("LIT_VIDEO_CACHE", str(tmp_path / "cache"))
    videos = read_annotations(tiny_dataset).videos()
    assert main(["flow", str(tiny_dataset), "--fps", "8", "--workers", "1"]) == 0
    assert f"{len(videos)} videos: flow computed for {len(videos)}" in capsys.readouterr().out
    gaps = [flow_gaps(probe_video(v).fps, 8.0) for v in videos]  # 12 fps: 1 and 2; 25 and 30 fps: 3 and 4
    assert {gap for video in gaps for gap in video} == {1, 2, 3, 4}
    assert len(list((tmp_path / "cache" / "flow").glob("*.npy"))) == sum(map(len, gaps))
    assert main(["flow", str(tiny_dataset), "--fps", "0"]) == 2
    assert "--fps must be > 0 frames per second, got 0.0" in capsys.readouterr().out
