"""``lit-video data synth`` and ``lit-video data check`` through ``lit_video.data.cli.main``."""

import shutil

from lit_video.data.cli import main


def test_synth_writes_a_dataset_that_checks_clean(tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["synth", "--out", str(out), "--classes", "2", "--videos-per-class", "2", "--frames", "8",
                 "--size", "16", "--fps", "10", "20", "--seed", "1"]) == 0
    assert f"wrote 8 videos to {out}" in capsys.readouterr().out  # 2 train + 1 val + 1 test per class
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
