"""The storage medium under a warehouse: keys in, bytes out; a local folder by default.

Keys are '/'-separated paths relative to the warehouse root ("raw/mediazona_daily/.../x.csv").
What the layer promises is what an object store promises too: a write is seen whole or not at
all, a create-only write has one winner, a pointer moves only if it still holds what the writer
read, and listing is by prefix.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Protocol

from flows.errors import TollError


class PointerMoved(TollError):
    """Another writer moved a pointer (e.g. `current`) since this run read it."""


class Storage(Protocol):
    root: str

    def uri(self, key: str) -> str: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def create(self, key: str, data: bytes) -> bool: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def read_pointer(self, key: str) -> tuple[str, str] | None: ...
    def swap_pointer(self, key: str, value: str, expected: str | None) -> None: ...


def check_key(key: str) -> str:
    """A relative key that stays inside the warehouse (no '..', not absolute)."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts:
        raise TollError(f"warehouse key {key!r}: expected a relative path without '..'")
    return key


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a sibling temporary file, fsync, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
        raise


class LocalStorage:
    """A warehouse in a local folder; the `current` pointer is a symlink swapped atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.root = str(self.folder)

    def path(self, key: str) -> Path:
        return self.folder / check_key(key)

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def write_bytes(self, key: str, data: bytes) -> None:
        write_atomic(self.path(key), data)

    def create(self, key: str, data: bytes) -> bool:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        write_atomic(tmp, data)
        try:
            os.link(tmp, path)  # fails if the key exists: one winner, like If-None-Match: *
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix) if prefix else self.folder
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.folder).as_posix() for p in base.rglob("*") if p.is_file()
        )

    def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def read_pointer(self, key: str) -> tuple[str, str] | None:
        link = self.path(key)
        if not link.is_symlink():
            return None
        target = os.readlink(link)
        return PurePosixPath(target).name, target

    def swap_pointer(self, key: str, value: str, expected: str | None = None) -> None:
        """Point `key` at `value` (a key) in one step: readers see the old or the new, never none.

        `expected` is checked under the warehouse lock, which is what serialises local writers."""
        link = self.path(key)
        now = self.read_pointer(key)
        if expected is not None and (now is None or now[1] != expected):
            raise PointerMoved(
                f"another toll run moved {link} (expected {expected}, found "
                f"{now[1] if now else 'nothing'}); nothing was switched"
            )
        # A symlink swap is atomic; renaming over a non-empty directory is not possible.
        tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(os.path.relpath(self.path(value), link.parent))
        os.replace(tmp, link)


def disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
