"""The storage medium under a warehouse: keys in, bytes out; a local folder by default.

Keys are '/'-separated paths relative to the warehouse root ("raw/mediazona_daily/.../x.csv").
What the layer promises is what an object store promises too: a write is seen whole or not at
all, a create-only write has one winner, a pointer moves only if it still holds what the writer
read, and listing is by prefix.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlsplit

from flows.errors import TollError


class PointerMoved(TollError):
    """Another writer moved a pointer (e.g. `current`) since this run read it."""


class StorageError(TollError):
    """The storage under the warehouse refused or failed an operation (unreachable, denied)."""


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


def write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    """Write to a sibling temporary file, fsync, then rename: readers never see half a file.

    With `sync=False` the caller syncs (`os.sync`) before anything naming the file is written."""
    tmp = write_temporary(path, data, sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_temporary(path: Path, data: bytes, sync: bool = False) -> Path:
    """`data` in `path`'s sibling temporary file (swept after a crash); returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a file behind
        raise
    return tmp


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
        return sorted(p.relative_to(self.folder).as_posix() for p in base.rglob("*") if p.is_file())

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


# -- an S3 bucket (or any S3-compatible server) ----------------------------------------------

POINTER_SUFFIX = ".json"  # the pointer `current` is the small object `current.json`
# AWS answers 409 when two conditional writes on one key overlap: retry, then let 412 decide.
CONFLICT_RETRIES = 5
PRESIGNED_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live


def is_s3_url(where: object) -> bool:
    return isinstance(where, str) and where.startswith("s3://")


class S3Storage:
    """A warehouse under `s3://bucket/prefix`: objects instead of files, no lock needed.

    Writes that must have one winner are conditional: `create` sends `If-None-Match: *`, and
    `swap_pointer` sends `If-Match` with the ETag of the pointer this object last read, so a
    pointer moved by another host fails cleanly instead of being overwritten. Endpoint and
    credentials come from the standard AWS settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...)
    unless given.
    """

    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        client=None,
        region: str | None = None,
        cache: Path | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"warehouse {url!r}: expected s3://bucket/prefix")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.root = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        # Objects are immutable once written (snapshots, raw files by content), so a local copy
        # of one never goes stale: readers work on this mirror (DuckDB 2.0.1 cannot load httpfs).
        default_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        self.folder = Path(cache or default_cache / "toll" / "s3" / self.bucket / self.prefix)
        self.endpoint_url = (
            endpoint_url
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or (os.environ.get("AWS_ENDPOINT_URL"))
        )
        if client is None:
            import boto3  # imported here: a local warehouse never pays for it

            client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=region or os.environ.get("AWS_REGION") or "us-east-1",
            )
        self.client = client
        # the (value, ETag) of each pointer as this object last read it: what a swap expects
        self._seen: dict[str, tuple[str, str] | None] = {}

    # -- keys ------------------------------------------------------------------------------

    def object_key(self, key: str) -> str:
        key = check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def path(self, key: str) -> Path:
        """Where `key` goes in this host's local mirror (nothing is fetched here)."""
        return self.folder / check_key(key)

    def _relative(self, object_key: str) -> str:
        return object_key[len(self.prefix) + 1 :] if self.prefix else object_key

    def _fail(self, action: str, key: str, exc: BaseException) -> StorageError:
        return StorageError(f"warehouse {self.root}: cannot {action} {key}: {_reason(exc)}")

    def _call(self, action: str, key: str, method, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(Bucket=self.bucket, **kwargs)
        except ClientError:
            raise  # the caller decides what a 404 or 412 means
        except BotoCoreError as exc:  # unreachable endpoint, no credentials, ...
            raise self._fail(action, key, exc) from None

    # -- the Storage protocol --------------------------------------------------------------

    def read_bytes(self, key: str) -> bytes:
        return self._get(key)[0]

    def _get(self, key: str) -> tuple[bytes, str]:
        from botocore.exceptions import ClientError

        try:
            answer = self._call("read", key, self.client.get_object, Key=self.object_key(key))
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{self.uri(key)}: no such object") from None
            raise self._fail("read", key, exc) from None
        return answer["Body"].read(), answer["ETag"]

    def write_bytes(self, key: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        # one PUT: readers see the old object or the new one, never half of it
        try:
            self._call("write", key, self.client.put_object, Key=self.object_key(key), Body=data)
        except ClientError as exc:
            raise self._fail("write", key, exc) from None

    def create(self, key: str, data: bytes) -> bool:
        """Write `key` only if no object is there (`If-None-Match: *`); False if one was."""
        return self._conditional_put(key, data, IfNoneMatch="*")

    def _conditional_put(self, key: str, data: bytes, **condition: str) -> bool:
        from botocore.exceptions import ClientError

        for attempt in range(CONFLICT_RETRIES):
            try:
                self._call(
                    "write",
                    key,
                    self.client.put_object,
                    Key=self.object_key(key),
                    Body=data,
                    **condition,
                )
                return True
            except ClientError as exc:
                code = _code(exc)
                if code in ("PreconditionFailed", "412"):
                    return False
                if code in ("ConditionalRequestConflict", "409") and attempt < CONFLICT_RETRIES - 1:
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise self._fail("write", key, exc) from None
        return False  # pragma: no cover (the loop returns or raises)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call("read", key, self.client.head_object, Key=self.object_key(key))
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._fail("read", key, exc) from None
        return True

    def list(self, prefix: str) -> list[str]:
        """Every key under the folder-like `prefix` ('' for the whole warehouse), sorted."""
        return sorted(self.listed(prefix))

    def listed(self, prefix: str) -> dict[str, float]:
        """Every key under the folder-like `prefix`, with when it was written (POSIX time)."""
        from botocore.exceptions import ClientError

        base = (
            self.object_key(prefix) + "/" if prefix else (f"{self.prefix}/" if self.prefix else "")
        )
        keys = {}
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for item in page.get("Contents", []):
                    keys[self._relative(item["Key"])] = item["LastModified"].timestamp()
        except ClientError as exc:
            raise self._fail("list", prefix or "/", exc) from None
        except Exception as exc:  # BotoCoreError from the paginator
            raise self._fail("list", prefix or "/", exc) from None
        return keys

    def presigned(self, key: str, seconds: int = PRESIGNED_SECONDS) -> str:
        """A URL that GETs `key` without credentials for `seconds`, for a browser (the Prefect
        UI's links); it names the endpoint this host uses, which the browser must reach."""
        return self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=seconds,
        )

    def has_objects(self) -> bool:
        """Whether anything is stored under the warehouse prefix (a missing bucket is an error)."""
        from botocore.exceptions import ClientError

        base = f"{self.prefix}/" if self.prefix else ""
        try:
            answer = self._call(
                "list", "/", self.client.list_objects_v2, Prefix=base, MaxKeys=1
            )
        except ClientError as exc:
            raise self._fail("list", "/", exc) from None
        return bool(answer.get("Contents"))

    def delete(self, key: str) -> None:
        """Delete the object `key` and everything under `key/` (a folder-like prefix)."""
        from botocore.exceptions import ClientError

        doomed = [key, *self.list(key)]
        try:
            for start in range(0, len(doomed), 1000):  # DeleteObjects takes 1,000 at most
                batch = [{"Key": self.object_key(k)} for k in doomed[start : start + 1000]]
                self._call(
                    "delete",
                    key,
                    self.client.delete_objects,
                    Delete={"Objects": batch, "Quiet": True},
                )
        except ClientError as exc:
            raise self._fail("delete", key, exc) from None

    def read_pointer(self, key: str) -> tuple[str, str] | None:
        """(name, target key) of pointer `key`, e.g. ('2026...Z', 'snapshots/2026...Z')."""
        try:
            data, etag = self._get(key + POINTER_SUFFIX)
        except FileNotFoundError:
            self._seen[key] = None
            return None
        try:
            target = json.loads(data)["target"]
        except (ValueError, KeyError, TypeError):
            raise StorageError(
                f"warehouse {self.root}: {key}{POINTER_SUFFIX} is not a toll pointer "
                '(expected {"target": "snapshots/<id>"})'
            ) from None
        self._seen[key] = (target, etag)
        return PurePosixPath(target).name, target

    def swap_pointer(self, key: str, value: str, expected: str | None = None) -> None:
        """Point `key` at `value` only if it still holds what this run read.

        The condition is the ETag of the pointer as last read through this object (or read now
        when it never was); `expected`, when given, must be the target that read returned."""
        check_key(value)
        if key not in self._seen:
            self.read_pointer(key)
        seen = self._seen[key]
        found = seen[0] if seen else None
        if expected is not None and found != expected:
            raise self._moved(key, expected, found)
        body = json.dumps({"target": value}).encode()
        condition = {"IfMatch": seen[1]} if seen else {"IfNoneMatch": "*"}
        if not self._conditional_put(key + POINTER_SUFFIX, body, **condition):
            now = self.read_pointer(key)
            raise self._moved(key, found, now[1] if now else None)
        self.read_pointer(key)  # remember the new ETag: a rollback in this process may follow

    def _moved(self, key: str, expected: str | None, found: str | None) -> PointerMoved:
        return PointerMoved(
            f"another toll run is writing {self.root}: it moved {key}{POINTER_SUFFIX} "
            f"(expected {expected or 'nothing'}, found {found or 'nothing'}); nothing was "
            "switched. Run again when it has finished"
        )


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _reason(exc: BaseException) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    if error:
        return f"{error.get('Code', '?')}: {error.get('Message', '').strip() or 'no message'}"
    return str(exc)
