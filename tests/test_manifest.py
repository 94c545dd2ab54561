"""The one writer of ``manifest.json``: what it checks, what it writes, and the size's old name."""

import json

import pytest

from lsr.errors import LsrError
from lsr.index.manifest import MANIFEST, index_bytes, read_manifest, write_manifest


def test_written_manifest_reads_back(tmp_path):
    manifest = {"kind": "dense", "num_docs": 3, "corpus": {"path": "c.jsonl", "sha256": "ab"}, "skipped_empty": [], "index_bytes": 10}
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    assert (tmp_path / MANIFEST).read_text(encoding="utf-8") == json.dumps(manifest, indent=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]


@pytest.mark.parametrize("manifest, key", [({"num_docs": 3}, "kind"), ({"kind": "splade", "num_docs": 3}, "kind"),
                                           ({"kind": "bm25"}, "num_docs"), ({"kind": "bm25", "num_docs": "3"}, "num_docs")])
def test_missing_or_bad_key_is_refused_and_nothing_is_left(tmp_path, manifest, key):
    with pytest.raises(LsrError, match=f"{tmp_path}.*'{key}'"):
        write_manifest(tmp_path, manifest)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_old_manifest(tmp_path):
    write_manifest(tmp_path, {"kind": "bm25", "num_docs": 1})
    with pytest.raises(TypeError):
        write_manifest(tmp_path, {"kind": "bm25", "num_docs": 2, "recipe": object()})
    assert read_manifest(tmp_path)["num_docs"] == 1 and sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST]


def test_old_size_name_is_read_but_not_written(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "impact", "num_docs": 1, "lucene_bytes": 2048}), encoding="utf-8")
    old = read_manifest(tmp_path)
    assert index_bytes(old) == 2048 and index_bytes({"kind": "hybrid", "num_docs": 1}) == 0
    write_manifest(tmp_path, old)
    assert json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8")) == {"kind": "impact", "num_docs": 1, "index_bytes": 2048}
