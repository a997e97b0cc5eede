"""visent.atomic: a file is replaced whole or not at all."""

import stat

import pytest

from visent.atomic import atomic_write


def test_atomic_write_replaces_the_file_creates_its_folder_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "new" / "result.json"
    atomic_write(path, lambda fh: fh.write(b"old"))
    assert atomic_write(path, lambda fh: fh.write(b"new")) == path
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["result.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by the other users of a shared cache


def test_a_write_that_fails_keeps_the_old_file_and_removes_the_partial_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"complete")

    def fail_halfway(fh):
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail_halfway)
    assert path.read_bytes() == b"complete"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
