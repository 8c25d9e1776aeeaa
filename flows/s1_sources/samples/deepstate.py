"""DeepState maps in both formats: full-layer exports and pre-filtered MultiPolygons (gzip)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from flows.s1_sources.catalogue import Source
from flows.s1_sources.samples.common import Draw
from flows.s2_ingest.parsers.deepstate import snapshot_instant

# invented boxes (west, south, east, north) per map layer; the first one grows eastwards
SAMPLE_LAYERS = [
    ("Окуповано /// Occupied /// geoJSON.status.occupied\n", (35.0, 46.5, 36.0, 47.5), True),
    (
        "Окупований Крим /// Occupied Crimea\xa0/// geoJSON.territories.crimea",
        (33.5, 44.5, 36.5, 46.0),
        True,
    ),
    ("ОРДЛО /// CADR and CALR\xa0/// geoJSON.territories.ordlo", (38.5, 47.5, 40.0, 49.0), True),
    (
        "Статус невідомий /// Unknown status /// geoJSON.status.unknown",
        (36.0, 47.5, 36.2, 47.7),
        False,
    ),
    (
        "Придністров'я/// Transnistria /// geoJSON.territories.transnistria",
        (29, 46.5, 30, 48),
        False,
    ),
]


def territory(source: Source, draw: Draw) -> dict[str, bytes]:
    """One map per declared file, in the format its folder holds, at the instant its name gives."""
    return {
        spec.local: sample_map(snapshot_instant(spec.local)[1], full="history" in spec.local)
        for spec in source.files
    }


def sample_map(instant: datetime, full: bool) -> bytes:
    """An invented map in either DeepState format (gzip, like the staged copies)."""
    grown = (instant - datetime(2023, 12, 24, tzinfo=UTC)).total_seconds() / 86_400 / 500
    layers = []
    for number, (name, (west, south, east, north), occupied) in enumerate(SAMPLE_LAYERS):
        east += grown if number == 0 else 0
        ring = [[west, south, 0], [east, south, 0], [east, north, 0], [west, north, 0]]
        layers.append((name, [[*ring, ring[0]]], occupied))
    if full:
        features = [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {"type": "Polygon", "coordinates": rings},
            }
            for name, rings, _ in layers
        ]
    else:
        parts = [[[point[:2] for point in rings[0]]] for _, rings, occupied in layers if occupied]
        features = [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "MultiPolygon", "coordinates": parts},
            }
        ]
    document = {"type": "FeatureCollection", "features": features}
    return gzip.compress(json.dumps(document, ensure_ascii=False).encode(), mtime=0)
