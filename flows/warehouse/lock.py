"""One writer per warehouse: a second run ends at once with a clear message."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flows.errors import TollError
from flows.warehouse.layout import Warehouse, as_warehouse


class WarehouseBusy(TollError):
    """Another toll run holds the warehouse lock."""


def refuse_unwritable(warehouse: Warehouse | Path) -> None:
    """Fail as the lock would, before a run starts Prefect, when the warehouse (on object
    storage: this host's working copy) cannot be written: a read-only mount took 15 s, a
    temporary Prefect server and a Prefect error line before the same one-line message."""
    _open_lock_file(as_warehouse(warehouse)).close()


def _open_lock_file(warehouse: Warehouse):
    """The warehouse's lock file, created if missing; a folder that cannot be written is one
    clear error."""
    warehouse.ensure()
    try:
        return open(warehouse.lock_path(), "a+")
    except OSError as exc:
        raise TollError(f"cannot write to warehouse {warehouse}: {exc.strerror}") from None


@contextmanager
def warehouse_lock(warehouse: Warehouse | Path) -> Iterator[None]:
    warehouse = as_warehouse(warehouse)
    if warehouse.on_object_storage():
        # no lock across hosts on a bucket: the pointer swap is conditional (If-Match on the
        # ETag read), so a writer that lost the race fails with PointerMoved instead
        yield
        return
    handle = _open_lock_file(warehouse)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WarehouseBusy(
            f"another toll run is writing {warehouse}; wait for it to finish and run again"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
