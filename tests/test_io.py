"""Atomic writes: content, permissions of a plainly created file, no temp file left, overwrite."""

from __future__ import annotations

import json
import os
import stat

import pytest

from glossfree.io import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    """Run the test under a given umask (process-wide, restored afterwards)."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_payload(path):
    path.write_bytes(b"payload")


def _with_atomic_path(path):
    with atomic_path(path) as tmp:
        _write_payload(tmp)


def _with_safetensors(path):
    import torch
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({"a": torch.zeros(2)}, str(tmp))  # safetensors creates its file 0o600


WRITERS = {
    "safetensors": _with_safetensors,
    "bytes": lambda path: atomic_write_bytes(path, b"\x00\xff"),
    "text": lambda path: atomic_write_text(path, "a\n"),
    "json": lambda path: atomic_write_json(path, {"a": 1}),
    "path": _with_atomic_path,
}


def test_bytes_content_and_parents_created(tmp_path):
    path = tmp_path / "a" / "b" / "blob.bin"
    atomic_write_bytes(path, b"\x00\x01\xff")
    assert path.read_bytes() == b"\x00\x01\xff"
    assert os.listdir(path.parent) == ["blob.bin"]


def test_text_is_encoded_as_is(tmp_path):
    path = tmp_path / "t.txt"
    atomic_write_text(path, "Grüße\r\nzwei\n")
    assert path.read_bytes() == "Grüße\r\nzwei\n".encode()  # no newline translation
    atomic_write_text(path, "Grüße", encoding="latin-1")
    assert path.read_bytes() == b"Gr\xfc\xdfe"


def test_json_format(tmp_path):
    path = tmp_path / "scores.json"
    atomic_write_json(path, {"text": "Straße", "path": tmp_path, "n": [1, 2]})
    assert path.read_text(encoding="utf-8") == (
        '{\n  "text": "Straße",\n  "path": ' + json.dumps(str(tmp_path)) + ',\n  "n": [\n    1,\n    2\n  ]\n}\n'
    )
    atomic_write_json(path, [1, "ü"], indent=None)
    assert path.read_text(encoding="utf-8") == '[1, "ü"]\n'


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_permissions_match_a_plain_file(tmp_path, umask, writer):
    path = tmp_path / "out.dat"
    WRITERS[writer](path)
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert _mode(path) == _mode(plain) == 0o666 & ~umask
    assert sorted(os.listdir(tmp_path)) == ["out.dat", "plain"]  # no temp file left


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_overwrite_replaces_content_and_keeps_mode(tmp_path, writer):
    path = tmp_path / "out.dat"
    path.write_bytes(b"old content that is longer than the new one")
    os.chmod(path, 0o640)
    WRITERS[writer](path)
    assert path.read_bytes() != b"old content that is longer than the new one"
    assert _mode(path) == 0o640  # as a plain overwrite keeps it
    assert os.listdir(tmp_path) == ["out.dat"]


def test_overwrite_content(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"long": "x" * 100})
    atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": 1}


def test_error_in_block_leaves_target_and_no_temp(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"old")
    seen = []
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_path(path) as tmp:
            seen.append(tmp)
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert not seen[0].exists()


def test_error_while_serialising_leaves_nothing(tmp_path):
    path = tmp_path / "sub" / "bad.json"
    circular: list = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference"):
        atomic_write_json(path, circular)
    assert not path.exists()


def test_failed_rename_removes_temp(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "inside").write_bytes(b"")  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"data")
    assert sorted(os.listdir(tmp_path)) == ["taken"]
    assert os.listdir(target) == ["inside"]


def test_atomic_path_temp_name(tmp_path):
    path = tmp_path / "plot.png"
    with atomic_path(path) as tmp:
        assert tmp.parent == tmp_path
        assert tmp.name.startswith(".plot.png.") and tmp.name.endswith(".tmp.png")
        assert not tmp.exists()  # the writer creates it, with the usual permissions
        _write_payload(tmp)
        with atomic_path(path) as other:
            assert other != tmp  # two writers to one target never share a temp file
            _write_payload(other)
    assert path.read_bytes() == b"payload"
    assert os.listdir(tmp_path) == ["plot.png"]


def test_atomic_path_without_a_file_is_an_error(tmp_path):
    path = tmp_path / "weights.bin"
    with pytest.raises(FileNotFoundError, match="weights.bin: the writer did not create the temporary file"):
        with atomic_path(path):
            pass
    assert os.listdir(tmp_path) == []


def test_output_paths_are_checked_before_any_work(tmp_path):
    from glossfree.errors import DataError
    from glossfree.io import check_output_file, make_output_dir

    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="afile: cannot use as the folder of the -o file: it is a file, not a folder"):
        check_output_file(tmp_path / "afile" / "x.vtt", what="-o file")
    with pytest.raises(DataError, match="folder.vtt: cannot write the -o file: it is a folder"):
        (tmp_path / "folder.vtt").mkdir()
        check_output_file(tmp_path / "folder.vtt", what="-o file")
    assert check_output_file(tmp_path / "new" / "x.vtt") == tmp_path / "new" / "x.vtt"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(DataError, match="/proc/glossfree-x: cannot create the folder of a.json: No such file or directory"):
        atomic_write_json("/proc/glossfree-x/a.json", {})
    assert make_output_dir(tmp_path / "a" / "b").is_dir()
