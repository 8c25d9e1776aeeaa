"""The `ingest-part` flow: fetch and parse some files of one source on any worker of the pool.

A nightly or backfill run on object storage hands the files of a large source (the daily maps,
most of the files at scale) to these runs (flows/pipeline/spread.py), so that every host of the
pool parses at once; only build, gate and publish stay serialised. A part needs no lock: what it
stores are content-named objects and manifest entries, written create-only, so a part that runs
twice, or beside another, is harmless. It works in a scratch folder of its host that holds the
bucket's manifest entries of that source (to skip what is stored) and is deleted afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger

from flows.config import load_settings
from flows.errors import TollError
from flows.ops.alerts import alert_on_failure
from flows.ops.host import this_host
from flows.pipeline.run import add_tags
from flows.s1_sources.catalogue import load_catalogue
from flows.s2_ingest.collect import ingest_source
from flows.warehouse.layout import Warehouse
from flows.warehouse.storage import LocalStorage, S3Storage
from flows.warehouse.working_copy import pull_entries, push_raw


@flow(name="ingest-part", log_prints=False, on_failure=[alert_on_failure])
def ingest_part(source: str, files: list[str], fetched_at: datetime) -> dict:
    """Fetch, parse and store `files` of `source` as fetched at `fetched_at` (the calling run's
    time, so its entries are the run's own); returns what was stored and on which host."""
    logger = get_run_logger()
    settings = load_settings()
    bucket = Warehouse.at(settings.warehouse, object_storage=True)
    if not isinstance(bucket.storage, S3Storage):
        raise TollError(
            f"ingest-part: warehouse {settings.warehouse} is not on object storage (a part "
            "stores its files on the bucket for the run that called it)"
        )
    catalogue = load_catalogue(settings.catalogue)
    if source not in catalogue:
        raise TollError(f"ingest-part: unknown source {source!r} (catalogue {settings.catalogue})")
    declared = {spec.local: spec for spec in catalogue[source].files}
    unknown = [f for f in files if f not in declared]
    if unknown:
        raise TollError(f"ingest-part: {source} declares no file {', '.join(unknown[:5])}")
    part = replace(catalogue[source], files=tuple(declared[f] for f in files))
    scratch = Path(tempfile.mkdtemp(prefix="toll-part-"))
    try:
        work = Warehouse(LocalStorage(scratch))
        work.remote = bucket.storage
        pull_entries(work, source)
        outcome = ingest_source(settings, part, fetched_at, work)
        uploaded = push_raw(work)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    host = this_host()
    add_tags([f"host:{host}"])  # the run history says which host parsed which part
    logger.info(
        "%s: %d of %d file(s) new, parsed and uploaded on %s (%d manifest entries)",
        source,
        len(outcome.new),
        len(outcome.files),
        host,
        uploaded,
    )
    return {"source": source, "files": len(outcome.files), "new": len(outcome.new), "host": host}
