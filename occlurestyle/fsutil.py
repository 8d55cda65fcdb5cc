"""Atomic file and folder writes, so an interrupted run never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import InputError


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


# mkstemp/mkdtemp create private (0600/0700) entries; outputs get the modes any other file would get
_UMASK = _current_umask()
_FILE_MODE = 0o666 & ~_UMASK
_DIR_MODE = 0o777 & ~_UMASK


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it is renamed onto `path` only if the block succeeds.

    The temporary name keeps the extension (or `suffix`) so writers that infer the format from the
    name (OpenCV, PyAV) still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `path` that replaces `path` only if the block succeeds."""
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise InputError(f"output folder {path} exists and is not empty; choose another or pass --overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=path.parent))
    os.chmod(tmp, _DIR_MODE)
    try:
        yield tmp
        if path.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, trash / "old")
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# what atomic_path and atomic_dir leave when their process is killed before it can clean up
_TEMPORARY_FILE = re.compile(r"^\..+\.[A-Za-z0-9_]{8}(\.[^.]+)?$")
_TEMPORARY_DIR = re.compile(r"^\..+\.(partial|old)-[A-Za-z0-9_]{8}$")


def remove_temporaries(folder: str | Path) -> int:
    """Remove the temporary files and folders that writers killed mid-way left under `folder` (no one
    may be writing there now); returns how many."""
    found = 0
    for path in sorted(Path(folder).rglob(".*"), key=lambda p: len(p.parts)):
        if not path.exists():
            continue  # inside a folder removed already
        if path.is_dir() and _TEMPORARY_DIR.match(path.name):
            shutil.rmtree(path, ignore_errors=True)
            found += 1
        elif path.is_file() and _TEMPORARY_FILE.match(path.name):
            path.unlink()
            found += 1
    return found
