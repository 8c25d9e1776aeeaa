"""Where everything lives in a warehouse: the one place that knows its keys.

  raw/<source>/<fetched_at>/<file>[.parquet|.rejected.parquet]   raw bytes and parsed rows
  raw/<source>/<fetched_at>/_raw-<d>.zip, _parsed-<d>.parquet     the same, many files together
  raw/_manifest/<fetched_at>-<source>-<sha12>.json                the entries of one fetch
  cache/raw/<table>.parquet, cache/local_stat/<source>.json       caches (safe to delete)
  work/build-<stamp>.duckdb                                       a build's scratch database
  snapshots/<id>/                                                 published snapshots
  current -> snapshots/<id>                                       the published one
  quarantine/<run>/*.parquet                                      rows set aside, per run
  quarantine/<run>/gate-failures/<suite>.<check>.parquet          every row a failed check found
  docs/<run>/index.html                                           the gate's Data Docs, per run
  reports/<snapshot>/                                             `toll report` output
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from flows.config import object_url
from flows.errors import TollError
from flows.warehouse.storage import LocalStorage, S3Storage

RAW = "raw"
MANIFEST = "raw/_manifest"
CACHE = "cache"
WORK = "work"
SNAPSHOTS = "snapshots"
CURRENT = "current"
QUARANTINE = "quarantine"
GATE_FAILURES = "gate-failures"
DOCS = "docs"
REPORTS = "reports"
LOCK = ".lock"
PIN = "pinned.json"  # a rollback's pin: runs leave `current` where it is until released


@dataclass(eq=False)
class Warehouse:
    """One warehouse; pass it along a run (it caches the manifest it has read)."""

    storage: LocalStorage | S3Storage

    def __post_init__(self) -> None:
        # The manifest read, kept out of the dataclass fields on purpose: Prefect walks every
        # field of a task's parameters (twice per task), and at 100x this list holds 5,200
        # entries (3-4 s of a cold run went to walking it).
        self._manifest: list | None = None
        # Sources are fetched on two threads (flows/pipeline/run.py fetch_sources): the read
        # and each batch of new entries happen under this lock, and a batch makes a new list,
        # so a reader never sees one being sorted (list.sort empties the list meanwhile).
        self._manifest_lock = threading.RLock()
        # On object storage a run builds in this host's mirror, a local warehouse bound to the
        # bucket it publishes to (flows/warehouse/working_copy.py); None otherwise.
        self.remote: S3Storage | None = None

    @classmethod
    def at(cls, folder: Path | str, object_storage: bool = False) -> Warehouse:
        """The warehouse in `folder`, or at an s3:// URL when the caller reads and writes it
        through the storage seam only (`object_storage=True`)."""
        url = object_url(folder)
        if url is not None:
            if not object_storage:
                # the other commands still open local paths: refuse rather than create a local
                # folder named "s3:" or read a stale mirror
                raise TollError(
                    f"warehouse {url}: this command needs a local folder (every `toll` command "
                    "works on object storage: see README, 'Warehouse on object storage')"
                )
            return cls(S3Storage(url))
        folder = Path(folder)
        # the folder, or the nearest part of its path that exists, must be a folder (a path
        # under a file ended in "Not a directory: .../pinned.json")
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            what = f"warehouse {folder}" if blocker == folder else f"warehouse {folder}: {blocker}"
            raise TollError(
                f"{what} is a file, not a folder: point TOLL_WAREHOUSE (or `warehouse` in "
                "toll.toml, or --warehouse) at a folder"
            )
        return cls(LocalStorage(folder))

    def __str__(self) -> str:
        return self.storage.root

    # -- keys to local paths (only this package turns keys into paths) -----------------------

    def path(self, key: str) -> Path:
        return self.storage.path(key)

    def root_folder(self) -> Path:
        """The local folder it is in (a working copy's on object storage)."""
        return self.storage.path(".")

    def exists(self) -> bool:
        if isinstance(self.storage, S3Storage):
            return self.storage.has_objects()
        return self.storage.folder.is_dir()

    def on_object_storage(self) -> bool:
        return isinstance(self.storage, S3Storage)

    def ensure(self) -> None:
        """Create the warehouse folder, or say clearly why it cannot be."""
        if isinstance(self.storage, S3Storage):
            return  # a prefix exists once an object is under it
        try:
            self.storage.folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise TollError(f"warehouse {self} is a file, not a folder") from None
        except OSError as exc:
            raise TollError(f"cannot create warehouse {self}: {exc.strerror}") from None

    def raw_key(self, *parts: str) -> str:
        return "/".join((RAW, *parts))

    def cache_path(self, *parts: str) -> Path:
        return self.path("/".join((CACHE, *parts)))

    def work_folder(self) -> Path:
        return self.path(WORK)

    def lock_path(self) -> Path:
        return self.path(LOCK)

    def sample_sources_folder(self) -> Path:
        """Where `toll run --demo` writes its generated sources."""
        return self.path("sample-sources")

    def current_folder(self) -> Path:
        """What readers open: `current`, which always names a whole published snapshot."""
        return self.path(CURRENT)

    def snapshots_folder(self) -> Path:
        return self.path(SNAPSHOTS)

    def snapshot_folder(self, snapshot_id: str) -> Path:
        return self.path(f"{SNAPSHOTS}/{snapshot_id}")

    def quarantine_folder(self, run_id: str | None = None) -> Path:
        return self.path(f"{QUARANTINE}/{run_id}" if run_id else QUARANTINE)

    def quarantine_parts(self, run_id: str) -> list[Path]:
        """The Parquet parts of one run's quarantine (temporary files left out)."""
        folder = self.quarantine_folder(run_id)
        return [p for p in sorted(folder.glob("*.parquet")) if not p.name.startswith(".")]

    def gate_failures_folder(self, run_id: str) -> Path:
        """Every failing row of each check the run's gate failed, one Parquet file a check."""
        return self.path(f"{QUARANTINE}/{run_id}/{GATE_FAILURES}")

    def gate_failure_files(self, run_id: str) -> list[Path]:
        folder = self.gate_failures_folder(run_id)
        return [p for p in sorted(folder.glob("*.parquet")) if not p.name.startswith(".")]

    def docs_root(self) -> Path:
        """Every run's Data Docs, one folder each (what `toll docs` serves)."""
        return self.path(DOCS)

    def docs_folder(self, run_id: str) -> Path:
        return self.path(f"{DOCS}/{run_id}")

    def docs_index(self, run_id: str) -> Path:
        return self.path(f"{DOCS}/{run_id}/index.html")

    def report_folder(self, snapshot_id: str) -> Path:
        return self.path(f"{REPORTS}/{snapshot_id}")

    # -- the manifest, read once per Warehouse object ----------------------------------------

    def manifest(self) -> list:
        """Every stored raw file, oldest fetch first (read once; `store` keeps it current)."""
        with self._manifest_lock:
            if self._manifest is None:
                from flows.warehouse.raw_store import read_manifest

                self._manifest = read_manifest(self)
            return self._manifest

    def forget_manifest(self) -> None:
        """Read the manifest again next time (entries were added by another writer)."""
        self._manifest = None

    def remember(self, *entries) -> None:
        """Add newly stored entries to the manifest read, keeping its order.

        One sort for a batch: sorting after each of 5,000 vintages took 2.4 s at 100x."""
        with self._manifest_lock:
            if self._manifest is not None and entries:
                self._manifest = sorted(
                    [*self._manifest, *entries], key=lambda e: (e.fetched_at, e.source, e.file)
                )


def open_warehouse(settings) -> Warehouse:
    """The warehouse a run's settings name (`warehouse`, TOLL_WAREHOUSE)."""
    return Warehouse.at(settings.warehouse)


def as_warehouse(where: Warehouse | Path | str) -> Warehouse:
    """A Warehouse for a folder (scripts and tests may pass the folder itself)."""
    return where if isinstance(where, Warehouse) else Warehouse.at(where)
