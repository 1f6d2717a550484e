"""Shared files (``lit_video.files``): what atomic writes leave on disk get the permissions the umask gives any
new file, so results and caches written for a team stay readable by it."""

import errno
import os
import stat

import pytest

from lit_video.files import remove_temporaries, umask, write_atomic, write_folder_atomic


@pytest.fixture(params=[0o022, 0o027])
def mask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(mask):
    assert umask() == mask
    assert umask() == mask


def test_written_files_and_folders_respect_the_umask(mask, tmp_path):
    write_atomic(tmp_path / "results" / "leaderboard.md", "# board\n")
    write_atomic(tmp_path / "results" / "plot.png", lambda tmp: tmp.write_bytes(b"\x89PNG"))
    assert _mode(tmp_path / "results" / "leaderboard.md") == _mode(tmp_path / "results" / "plot.png") == 0o666 & ~mask
    assert _mode(tmp_path / "results") == 0o777 & ~mask

    def fill(folder):
        (folder / "annotations").mkdir()
        (folder / "annotations" / "train.csv").write_text("label,youtube_id,time_start,time_end,split\n")

    folder = write_folder_atomic(tmp_path / "cache" / "synthetic-v9", fill)
    assert folder == tmp_path / "cache" / "synthetic-v9" and os.listdir(tmp_path / "cache") == ["synthetic-v9"]
    assert _mode(folder) == _mode(folder / "annotations") == 0o777 & ~mask
    assert _mode(folder / "annotations" / "train.csv") == 0o666 & ~mask
    if mask == 0o022:
        assert (_mode(folder), _mode(tmp_path / "results" / "leaderboard.md")) == (0o755, 0o644)


def test_a_write_the_disk_refuses_names_the_file_meant_and_keeps_the_old_one(tmp_path):
    """A full disk's write names no file, a refused temporary file its own name: either way the error names the file
    being written (what ``lit-video``'s one line for it shows), with its errno and class."""
    path = tmp_path / "leaderboard.md"
    write_atomic(path, "old\n")

    def full(tmp):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def refused(tmp):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp))

    for write, kind in ((full, OSError), (refused, PermissionError)):
        with pytest.raises(kind) as raised:
            write_atomic(path, write)
        assert raised.value.filename == str(path) and raised.value.strerror == os.strerror(raised.value.errno)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["leaderboard.md"]


def test_a_folder_written_twice_keeps_the_first_and_leaves_no_temporaries(tmp_path):
    first = write_folder_atomic(tmp_path / "data", lambda folder: (folder / "a.txt").write_text("first"))
    write_folder_atomic(tmp_path / "data", lambda folder: (folder / "a.txt").write_text("second"))
    assert (first / "a.txt").read_text() == "first" and os.listdir(tmp_path) == ["data"]

    def fail(folder):
        (folder / "half.txt").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_folder_atomic(tmp_path / "other", fail)
    assert os.listdir(tmp_path) == ["data"]
    (tmp_path / ".tmp-left.d").mkdir()  # what a killed writer of a folder leaves
    (tmp_path / ".tmp-left.d" / "x").write_text("x")
    (tmp_path / ".tmp-left.txt").write_text("x")
    remove_temporaries(tmp_path)
    assert os.listdir(tmp_path) == ["data"]
