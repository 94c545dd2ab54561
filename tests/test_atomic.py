"""atomic_file: the new content appears whole or not at all, and nothing that lsr did not write is touched."""

import os
import stat
import subprocess

import pytest

from lsr.atomic import atomic_file


def test_the_file_appears_only_when_the_block_completes(tmp_path):
    path = tmp_path / "run.tsv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert path.read_text() == "old\n"
    with atomic_file(path) as tmp:
        tmp.write_text("new\n")
        assert path.read_text() == "old\n"
    assert path.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.tsv"]


def test_files_beside_it_are_left_alone(tmp_path):
    """A user's file under any name lsr used to write through, and a live writer's temporary file, survive a write."""
    path = tmp_path / "run.tsv"
    mine = {tmp_path / "run.partial.tsv": "user's", tmp_path / f".run.tsv.{os.getpid()}.live.partial.tsv": "live writer's"}
    for other, text in mine.items():
        other.write_text(text)
    with atomic_file(path) as tmp:
        assert tmp not in mine and tmp.suffix == ".tsv"
        tmp.write_text("new\n")
    assert path.read_text() == "new\n"
    assert {other: other.read_text() for other in mine} == mine


def test_a_killed_writers_leftover_goes_with_the_next_write(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = tmp_path / f".run.tsv.{dead.pid}.0a1b2c3d.partial.tsv"
    leftover.write_text("half")
    with atomic_file(tmp_path / "run.tsv") as tmp:
        tmp.write_text("new\n")
    assert not leftover.exists()


def test_the_file_gets_the_umasks_permissions_like_a_plain_write(tmp_path):
    with atomic_file(tmp_path / "a.json") as tmp:
        tmp.write_text("{}")
    (tmp_path / "b.json").write_text("{}")
    mode = stat.S_IMODE
    assert mode((tmp_path / "a.json").stat().st_mode) == mode((tmp_path / "b.json").stat().st_mode)
