"""Annotation readers: Kinetics CSVs (split folders, one folder, any container, untrimmed), Sports-1M partition
files (URLs, multi-label), UCF101 class folders (with and without split lists), format detection, bad rows."""

import shutil
import signal

import pytest

from lit_video.data.annotations import detect_format, index_videos, read_annotations, read_kinetics, read_sports1m


def _place(source, *targets):
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def test_kinetics_split_folders(tiny_dataset):
    info = read_annotations(tiny_dataset)  # auto
    assert info.format == "kinetics"
    assert info.class_names == ["solid", "horizontal_stripes", "move_left", "move_right"]  # from classes.json
    assert info.groups == {"appearance": [0, 1], "direction": [2, 3]}
    assert not info.multi_label and not info.skipped
    for split in ("train", "val", "test"):
        records = info.splits[split]
        assert len(records) == 12
        assert all(r.path.parts[-3] == split and r.path.parts[-2] == info.class_names[r.labels[0]] for r in records)
        assert all(r.segment == (None, None) for r in records)


def test_kinetics_one_folder_any_container_untrimmed_and_bad_rows(indexed_videos, tmp_path):
    videos = tmp_path / "videos"
    _place(indexed_videos["mkv"], videos / "aaa_000004_000014.mkv")
    _place(indexed_videos["webm"], videos / "bbb_000000_000010.webm")
    _place(indexed_videos["avi"], videos / "ccc_000001_000011.avi")
    _place(indexed_videos["mp4"], videos / "ddd.mp4")  # untrimmed: named by the YouTube id only
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,aaa,4,14,train\n"
        "\"air drumming\",bbb,0,10,train\n"
        "abseiling,ddd,1,2,train\n"
        "abseiling,nothere,0,10,train\n")
    (tmp_path / "annotations" / "validate.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "\"air drumming\",ccc,1,11,val\n"
        "juggling,aaa,4,14,val\n")
    info = read_kinetics(tmp_path)
    assert info.class_names == ["abseiling", "air drumming"]  # the train split's labels, sorted
    train = {r.path.name: r for r in info.splits["train"]}
    assert set(train) == {"aaa_000004_000014.mkv", "bbb_000000_000010.webm", "ddd.mp4"}
    assert train["ddd.mp4"].segment == (1.0, 2.0) and train["aaa_000004_000014.mkv"].segment == (None, None)
    assert train["bbb_000000_000010.webm"].labels == (1,)
    assert [r.path.name for r in info.splits["val"]] == ["ccc_000001_000011.avi"]
    assert "test" not in info.splits  # no test.csv: no test split (the validation videos do not stand in)
    assert info.split_problems() == [(str(tmp_path / "annotations" / "test.csv"),
                                      "no test split: the file is missing; set data.test_split=val to test on "
                                      "the validation videos (the test figures are then validation figures)")]
    assert info.select_splits(test_split="val").splits["test"] == info.splits["val"]
    reasons = dict(info.skipped)
    assert "no video file nothere_000000_000010.*" in reasons[f"{tmp_path}/annotations/train.csv:5"]
    assert "unknown label 'juggling'" in reasons[str(videos / "aaa_000004_000014.mkv")]


def test_kinetics_single_csv_with_a_split_column(tiny_dataset, tmp_path):
    rows = ["label,youtube_id,time_start,time_end,split"]
    for split in ("train", "val"):
        rows += (tiny_dataset / "annotations" / f"{split}.csv").read_text().splitlines()[1:]
    (tmp_path / "all.csv").write_text("\n".join(rows) + "\n")
    info = read_annotations(tiny_dataset, "kinetics", tmp_path / "all.csv")
    assert len(info.splits["train"]) == 12 and len(info.splits["val"]) == 12
    assert sorted(info.class_names) == ["horizontal_stripes", "move_left", "move_right", "solid"]


def test_sports1m_urls_paths_and_multi_label(indexed_videos, tmp_path):
    _place(indexed_videos["mp4"], tmp_path / "videos" / "abcdefghijk.mp4", tmp_path / "videos" / "local.mp4",
           tmp_path / "videos" / "zyxwvutsrqp.mkv")
    (tmp_path / "labels.txt").write_text("running\nswimming\ncycling\n")
    (tmp_path / "train_partition.txt").write_text(
        "https://www.youtube.com/watch?v=abcdefghijk 0,2\n"
        "videos/local.mp4 1\n"
        "https://www.youtube.com/watch?v=missing0000 0\n"
        "https://youtu.be/zyxwvutsrqp 7\n")
    (tmp_path / "test_partition.txt").write_text("https://youtu.be/zyxwvutsrqp 2\n")
    assert detect_format(tmp_path) == "sports1m"
    info = read_sports1m(tmp_path)
    assert info.multi_label and info.class_names == ["running", "swimming", "cycling"]
    assert [(r.path.name, r.labels) for r in info.splits["train"]] == [("abcdefghijk.mp4", (0, 2)),
                                                                      ("local.mp4", (1,))]
    assert "val" not in info.splits  # no val partition: validating on test takes data.val_split=test
    assert [r.path.name for r in info.select_splits(val_split="test").splits["val"]] == ["zyxwvutsrqp.mkv"]
    reasons = [why for _, why in info.skipped]
    assert any("missing0000" in why for why in reasons)
    assert any("unknown label id 7" in why for why in reasons)


def _ucf_tree(root, source):
    for cls in ("ApplyEyeMakeup", "Archery"):
        for g in range(1, 6):
            _place(source, root / cls / f"v_{cls}_g{g:02d}_c01.avi")


def test_folder_with_ucf101_split_lists(indexed_videos, tmp_path):
    _ucf_tree(tmp_path, indexed_videos["avi"])
    lists = tmp_path / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("1 Archery\n2 ApplyEyeMakeup\n")
    (lists / "trainlist01.txt").write_text(
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 2\nArchery/v_Archery_g01_c01.avi 1\n"
        "Archery/v_Archery_g09_c01.avi 1\nBowling/v_Bowling_g01_c01.avi 3\n")
    (lists / "testlist01.txt").write_text("Archery/v_Archery_g05_c01.avi\n")
    _place(indexed_videos["avi"], tmp_path / "Bowling" / "v_Bowling_g01_c01.avi")
    info = read_annotations(tmp_path)
    assert info.format == "folder" and info.class_names == ["Archery", "ApplyEyeMakeup"]
    assert [(r.path.name, r.labels) for r in info.splits["train"]] == [("v_ApplyEyeMakeup_g01_c01.avi", (1,)),
                                                                      ("v_Archery_g01_c01.avi", (0,))]
    assert [r.path.name for r in info.splits["test"]] == ["v_Archery_g05_c01.avi"]
    reasons = dict(info.skipped)
    assert "file not found" in reasons[str(tmp_path / "Archery" / "v_Archery_g09_c01.avi")]
    assert "unknown label 'Bowling'" in reasons[str(tmp_path / "Bowling" / "v_Bowling_g01_c01.avi")]


def test_folder_without_lists_splits_each_class_3_1_1(indexed_videos, tmp_path):
    _ucf_tree(tmp_path, indexed_videos["avi"])
    info = read_annotations(tmp_path, "folder")
    assert info.class_names == ["ApplyEyeMakeup", "Archery"]
    assert [len(info.splits[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    every = [r.path for s in ("train", "val", "test") for r in info.splits[s]]
    assert len(set(every)) == 10  # each video in exactly one split


def test_bad_options_and_unknown_layouts(tiny_dataset, tmp_path):
    with pytest.raises(ValueError, match="data.format 'youtube'"):
        read_annotations(tiny_dataset, "youtube")
    with pytest.raises(ValueError, match="is not a folder"):
        read_annotations(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="data.annotations .* does not exist"):
        read_annotations(tiny_dataset, annotations=tmp_path / "none.csv")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no videos here")
    with pytest.raises(ValueError, match="cannot tell the annotation format"):
        read_annotations(tmp_path)
    with pytest.raises(ValueError, match="lacks the column"):
        (tmp_path / "bad.csv").write_text("name,id\nx,y\n")
        read_annotations(tiny_dataset, "kinetics", tmp_path / "bad.csv")


# --------------------------------------------------------------------------------------------------- reliability
def test_annotation_paths_outside_the_root_are_skipped_links_inside_are_followed(indexed_videos, tmp_path):
    root = tmp_path / "data"
    _place(indexed_videos["mp4"], root / "videos" / "inside.mp4", tmp_path / "outside.mp4")
    (root / "videos" / "linked.mp4").symlink_to(indexed_videos["mp4"])  # the user's link: followed
    (root / "labels.txt").write_text("a\nb\n")
    (root / "train_partition.txt").write_text(
        "videos/inside.mp4 0\n../outside.mp4 1\n"
        f"{tmp_path / 'outside.mp4'} 0\n/etc/passwd 0\nvideos/../../outside.mp4 1\n")
    (root / "test_partition.txt").write_text(f"videos/linked.mp4 1\n{root / 'videos' / 'inside.mp4'} 0\n")
    info = read_sports1m(root)
    assert [r.path for r in info.splits["train"]] == [root / "videos" / "inside.mp4"]
    # An absolute path inside the root is that file (here: in train and test, so it is reported twice).
    assert [r.path for r in info.splits["test"]] == [root / "videos" / "linked.mp4", root / "videos" / "inside.mp4"]
    assert [path for path, _ in info.duplicates] == [str(root / "videos" / "inside.mp4")]
    reasons = dict(info.skipped)
    assert len(reasons) == 4
    for line in (2, 3, 4, 5):
        assert "is outside the dataset root" in reasons[f"{root / 'train_partition.txt'}:{line}"]

    ucf = tmp_path / "ucf"
    _ucf_tree(ucf, indexed_videos["avi"])
    (ucf / "trainlist01.txt").write_text(f"Archery/v_Archery_g01_c01.avi 1\n../data/videos/inside.mp4 1\n"
                                         f"{ucf / 'Archery' / 'v_Archery_g02_c01.avi'} 1\n"
                                         f"{tmp_path / 'outside.mp4'} 1\n")
    (ucf / "testlist01.txt").write_text("Archery/v_Archery_g03_c01.avi\n")
    info = read_annotations(ucf)
    assert [r.path for r in info.splits["train"]] == [ucf / "Archery" / f"v_Archery_g0{g}_c01.avi" for g in (1, 2)]
    assert [where for where, why in info.skipped if "outside the dataset root" in why] == [
        f"{ucf / 'trainlist01.txt'}:2", f"{ucf / 'trainlist01.txt'}:4"]


def test_symlink_loops_do_not_hang_indexing(tiny_dataset, tmp_path):
    """Two links that lead back up the tree: the walk visits each folder once. Under a time limit (an alarm that
    interrupts the walk), so a walk that never ends fails the test instead of blocking the suite."""
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    (root / "train" / "loop_up").symlink_to(root)
    (root / "val" / "solid" / "loop_across").symlink_to(root / "train")

    def endless(signum, frame):  # pytest.fail raises no OSError, which the walk would swallow
        pytest.fail("indexing a tree with symlink loops ran for 60 s")

    previous = signal.signal(signal.SIGALRM, endless)
    signal.alarm(60)
    try:
        counts = [sum(map(len, index_videos(root).values())), len(read_kinetics(root).videos())]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert counts == [36, 36]  # every video once


def test_bom_bad_times_and_short_rows(tiny_dataset, tmp_path):
    """A byte-order mark is not part of the first column's name; rows with an unusable time or too few fields
    are skipped with file, line and reason, and the rest of the file is used."""
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    train = root / "annotations" / "train.csv"
    train.write_text(train.read_text() + "solid,aaa,abc,10,train\nsolid,aaa,0,inf,train\nsolid,aaa\n"
                     "solid,aaa,nan,1,train\nsolid,aaa,5,2,train\n", encoding="utf-8-sig")
    assert train.read_bytes().startswith(b"\xef\xbb\xbf")
    info = read_annotations(root)
    assert len(info.splits["train"]) == 12
    assert info.skipped == [(f"{train}:14", "time_start 'abc' is not a number of seconds (finite, >= 0)"),
                            (f"{train}:15", "time_end 'inf' is not a number of seconds (finite, >= 0)"),
                            (f"{train}:16", "short row: 2 of the 5 fields"),
                            (f"{train}:17", "time_start 'nan' is not a number of seconds (finite, >= 0)"),
                            (f"{train}:18", "time_end 2 is before time_start 5")]


def test_ucf_split_lists_and_class_index_with_spaces_in_names(indexed_videos, tmp_path):
    for cls in ("Apply Eye Makeup", "Archery"):
        for g in (1, 2):
            _place(indexed_videos["avi"], tmp_path / cls / f"v_{cls} g{g}.avi")
    (tmp_path / "classInd.txt").write_text("1 Archery\n2 Apply Eye Makeup\n")
    (tmp_path / "trainlist01.txt").write_text("Apply Eye Makeup/v_Apply Eye Makeup g1.avi 2\n"
                                              "Archery/v_Archery g1.avi\t1\n")
    (tmp_path / "testlist01.txt").write_text("Apply Eye Makeup/v_Apply Eye Makeup g2.avi\nArchery/v_Archery g2.avi\n")
    info = read_annotations(tmp_path)
    assert info.class_names == ["Archery", "Apply Eye Makeup"] and not info.skipped
    assert [(r.path.name, r.labels) for r in info.splits["train"]] == [("v_Apply Eye Makeup g1.avi", (1,)),
                                                                      ("v_Archery g1.avi", (0,))]
    assert [r.path.name for r in info.splits["test"]] == ["v_Apply Eye Makeup g2.avi", "v_Archery g2.avi"]


def test_videos_listed_twice_are_reported(tiny_dataset, tmp_path):
    root = shutil.copytree(tiny_dataset, tmp_path / "data")
    ann = root / "annotations"
    train_row = (ann / "train.csv").read_text().splitlines()[1]
    val_rows = (ann / "val.csv").read_text().splitlines()
    (ann / "test.csv").write_text((ann / "test.csv").read_text() + train_row.rsplit(",", 1)[0] + ",test\n")
    (ann / "val.csv").write_text("\n".join([*val_rows, val_rows[1]]) + "\n")
    info = read_annotations(root)
    found = dict(info.duplicates)
    assert len(found) == 2
    train_video = next(r.path for r in info.splits["train"] if r.source == f"{ann / 'train.csv'}:2")
    assert found[str(train_video)] == (f"the same video is listed in train and test (train {ann / 'train.csv'}:2; "
                                       f"test {ann / 'test.csv'}:14)")
    val_video = next(r.path for r in info.splits["val"] if r.source == f"{ann / 'val.csv'}:2")
    assert found[str(val_video)].startswith("the same video is listed 2 times in val")
    assert not read_annotations(tiny_dataset).duplicates
