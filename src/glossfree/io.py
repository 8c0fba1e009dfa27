"""Atomic file writes: the one place glossfree writes a file that a reader may open at any moment.

A file is written to a temporary sibling (same folder, so the rename stays on one file system),
flushed to disk, then renamed onto the target with ``os.replace``. A reader sees the old file or
the whole new one, never a half-written one, and a killed run leaves at most a hidden temp file
``.{name}.{pid}.{random}.tmp{suffix}`` (deleted when the write fails with an exception).

The result has the permissions of a plainly created file (``0o666`` less the umask), whatever mode
the writer gave the temp file (``tempfile.mkstemp`` and ``safetensors`` create theirs ``0o600``), so
other users of a shared model or feature cache can read it. When the target already exists its
permission bits are kept, as a plain overwrite keeps them. Missing parent folders are created (:func:`make_output_dir`: a folder that cannot be created raises
:class:`~glossfree.errors.DataError` naming it, not an ``OSError``).

- :func:`atomic_write_bytes`, :func:`atomic_write_text`, :func:`atomic_write_json` write data held
  in memory.
- :func:`atomic_path` is for writers that want a file name (``safetensors.torch.save_model``,
  ``PIL.Image.save``...): it yields the temp path and renames it onto the target when the block
  ends without an exception. The temp name ends with the target's suffix, so writers that pick a
  format from the extension pick the right one.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "check_output_dir", "check_output_file",
    "make_output_dir",
]


def _temp_sibling(path: Path) -> Path:
    """A fresh hidden name beside ``path``: ``.{name}.{pid}.{random}.tmp{suffix}``."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp{path.suffix}")


def _umask() -> int:
    """The process's umask (reading it means setting it: it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _set_mode(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the permission bits of an existing ``path``, or of a plainly created file when it is
    new: writers that create their file themselves may make it ``0o600`` (``safetensors`` does)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    os.chmod(tmp, mode)


def _fsync(path: Path) -> None:
    """Flush an already written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it is renamed onto ``path``, on error deleted.

    The block must create the file at the yielded path (it does not exist yet, so the writer
    creates it with the usual permissions). A block that ends without creating it raises
    ``FileNotFoundError`` naming both paths, and ``path`` is left as it was.
    """
    path = Path(path)
    make_output_dir(path.parent, what=f"folder of {path.name}")
    tmp = _temp_sibling(path)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{path}: the writer did not create the temporary file {tmp}")
        _fsync(tmp)
        _set_mode(tmp, path)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "xb") as handle:
            handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, as is (``\\n`` is not translated to the OS's line end)."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as UTF-8 JSON (not ASCII-escaped, ``str()`` for other types) plus a final newline."""
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=str) + "\n")


def describe_json_error(error: json.JSONDecodeError) -> str:
    """``"Expecting value at column 5"``; json's own text ends some messages in "at" already
    ("Unterminated string starting at"), so the column is not preceded by a second "at"."""
    joiner = " column" if error.msg.endswith(" at") else " at column"
    return f"{error.msg}{joiner} {error.colno}"


def read_json(path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """Read a JSON file; missing file, bad UTF-8 or bad JSON raise :class:`DataError` naming it."""
    from glossfree.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}:{error.lineno}: not valid JSON: {describe_json_error(error)}") from None


def make_output_dir(path: str | os.PathLike[str], *, what: str = "output folder") -> Path:
    """Create ``path`` (and its parents) as a folder; raise :class:`DataError` naming it when that is
    not possible (a file in the way, a read-only or virtual file system such as ``/proc``)."""
    from glossfree.errors import DataError

    path = check_output_dir(path, what=what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"{path}: cannot create the {what}: {error.strerror or error}") from None
    return path


def check_output_file(path: str | os.PathLike[str], *, what: str = "output file") -> Path:
    """Check that ``path`` can be written as a file (it is not a folder, and its folder is or can be
    one); raise :class:`DataError` if not. Called before the work, as :func:`check_output_dir`."""
    from glossfree.errors import DataError

    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path}: cannot write the {what}: it is a folder")
    check_output_dir(path.parent, what=f"folder of the {what}")
    return path


def check_output_dir(path: str | os.PathLike[str], *, what: str = "output folder") -> Path:
    """Check that ``path`` is, or can be created as, a folder; raise :class:`DataError` if not.

    Called before any work, so that ``--out`` under a regular file fails at once with a message
    naming that file instead of a ``NotADirectoryError`` traceback after the work is done.
    """
    from glossfree.errors import DataError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DataError(f"{path}: cannot use as the {what}: it is a file, not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(f"{path}: cannot create the {what}: {parent} is a file, not a folder")
            break
    return path
