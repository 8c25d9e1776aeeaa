"""DeepState map snapshots (GeoJSON) → one row per snapshot: occupied and grey-zone km².

Two formats are read:
- full-layer exports (`<unix_ts>.geojson`, DanielRose2310/deepstatemaps-history): every map layer
  as named Polygons and Points, 3D coordinates. A layer is known only by its free-text bilingual
  `name`, whose format changed around 2024-03-24 (`Окуповано /// Occupied` became
  `Окуповано /// Occupied /// geoJSON.status.occupied`), with trailing newlines, NBSPs and
  spacing variants, and a few names with broken characters.
- pre-filtered files (`deepstatemap_data_YYYYMMDD.geojson`, cyterat/deepstate-map-data): one
  MultiPolygon, already the union of Occupied, Occupied Crimea and CADR and CALR.

Labels are matched part by part (split on `///`), each part normalised, so either format and
either language is enough; the non-Ukrainian "occupied" layers the map also draws carry parts of
their own and never match.
"""

from __future__ import annotations

import gzip
import re
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

import numpy as np
import orjson
import polars as pl
import shapely
import shapely.errors

from flows.errors import SourceFormatError
from flows.s2_ingest.parsers import geometry
from flows.s2_ingest.parsing import ROW, Parsed

# Occupied area = these three layers (DeepState's own definition of occupied Ukraine).
OCCUPIED_LAYERS = ("occupied", "occupied_crimea", "cadr_calr")
GREY_ZONE = "grey_zone"
OUTSIDE_UKRAINE = "outside_ukraine"

LABEL_PARTS = {
    "occupied": {"occupied", "окуповано", "geojson.status.occupied"},
    "occupied_crimea": {"occupied crimea", "окупований крим", "geojson.territories.crimea"},
    "cadr_calr": {"cadr and calr", "ордло", "geojson.territories.ordlo"},
    GREY_ZONE: {"unknown status", "статус невідомий", "geojson.status.unknown"},
}
# Territories outside Ukraine that the map marks as occupied: excluded, only counted.
OUTSIDE_KEYS = re.compile(
    r"transnistria|abkhazia|tskhinvali|kuril|karelia|petsamo|salla|estonia|latvia|pechorsky|"
    r"prussia|ichkeria"
)
_SPACES = re.compile(r"\s+")
_PART_TO_LAYER = {part: layer for layer, parts in LABEL_PARTS.items() for part in parts}

FULL_LAYER = "full_layer"
PREFILTERED = "prefiltered"
_UNIX_NAME = re.compile(r"^(\d{9,11})\.geojson(?:\.gz)?$")
_DATED_NAME = re.compile(r"^deepstatemap_data_(\d{8})\.geojson(?:\.gz)?$")
# cyterat's files are downloaded at 03:00 UTC on the date in their name
PREFILTERED_HOUR_UTC = 3

SCHEMA = {
    ROW: pl.Int64,
    "snapshot": pl.String,
    "snapshot_utc": pl.Datetime("us"),
    "map_format": pl.String,
    "occupied_km2": pl.Float64,
    "grey_zone_km2": pl.Float64,
    "occupied_polygons": pl.Int64,
    "grey_zone_polygons": pl.Int64,
    "outside_ukraine_polygons": pl.Int64,
    "features": pl.Int64,
}


def normalise(part: str) -> str:
    """One label part compared loosely: NBSP and runs of spaces → one space, no end dots."""
    return _SPACES.sub(" ", part.replace("\xa0", " ")).strip().strip(".").strip().casefold()


def layer_of(name: str | None) -> str | None:
    """The layer a feature name denotes: an occupied layer, grey zone, outside Ukraine, or None."""
    if not name:
        return None
    parts = [normalise(p) for p in name.split("///")]
    if any(OUTSIDE_KEYS.search(p) for p in parts):
        return OUTSIDE_UKRAINE
    for part in parts:
        layer = _PART_TO_LAYER.get(part)
        if layer is not None:
            return layer
    return None


def snapshot_instant(file: str) -> tuple[str, datetime]:
    """The snapshot's name (without .gz) and the UTC instant it shows, from its file name."""
    name = PurePosixPath(file).name
    if found := _UNIX_NAME.match(name):
        return name.removesuffix(".gz"), datetime.fromtimestamp(int(found.group(1)), UTC)
    if found := _DATED_NAME.match(name):
        day = datetime.strptime(found.group(1), "%Y%m%d").replace(tzinfo=UTC)
        return name.removesuffix(".gz"), day + timedelta(hours=PREFILTERED_HOUR_UTC)
    raise ValueError(name)


def _shape(geom: dict) -> shapely.Geometry:
    kind = geom.get("type")
    if kind == "GeometryCollection":
        return shapely.GeometryCollection([_shape(g) for g in geom.get("geometries") or []])
    coords = geom.get("coordinates")
    if kind == "Polygon":
        return _polygon(coords)
    if kind == "MultiPolygon":
        return shapely.MultiPolygon([_polygon(p) for p in coords])
    raise TypeError(f"geometry type {kind!r}")


def _polygon(rings: list) -> shapely.Polygon:
    arrays = [_lon_lat(ring) for ring in rings]
    if not arrays or any(a is None for a in arrays):
        # odd input (an empty ring, points of mixed dimension): the plain path and its errors
        shell, *holes = ([point[:2] for point in ring] for ring in rings)
        return shapely.Polygon(shell, holes)
    shell, *holes = (shapely.linearrings(points) for points in arrays)
    return shapely.polygons(shell, holes or None)


def _lon_lat(ring: list) -> np.ndarray | None:
    """The ring's points as an (n, 2) array, z dropped ([lon, lat, 0]); None if not that shape."""
    try:
        points = np.asarray(ring, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if points.ndim != 2 or points.shape[0] == 0 or points.shape[1] not in (2, 3):
        return None
    return points[:, :2]


def parse_snapshot(source: str, file: str, content: bytes) -> Parsed:
    """One row: the snapshot's instant, format, occupied and grey-zone km², polygon counts."""
    return to_parsed([measure_snapshot(source, file, content)])


def to_parsed(rows: list[dict]) -> Parsed:
    rejected = pl.DataFrame(schema={ROW: pl.Int64, "reason": pl.String, "raw_row": pl.String})
    return Parsed(rows=pl.DataFrame(rows, schema=SCHEMA), rejected=rejected)


def measure_snapshot(source: str, file: str, content: bytes) -> dict:
    """The row of `parse_snapshot` as a plain dict (no Polars: safe in a forked worker)."""
    try:
        snapshot, instant = snapshot_instant(file)
    except ValueError:
        raise SourceFormatError(
            source,
            file,
            "file name",
            "<unix timestamp>.geojson or deepstatemap_data_YYYYMMDD.geojson (the as-of instant)",
        ) from None
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceFormatError(
                source, file, f"gzip data ({exc})", "a complete gzip file"
            ) from None
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise SourceFormatError(
            source, file, f"JSON ({exc})", "a GeoJSON FeatureCollection"
        ) from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise SourceFormatError(source, file, "top level", "a GeoJSON FeatureCollection")

    layers: dict[str, list[shapely.Geometry]] = {}
    named = False
    for position, feature in enumerate(features, start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        geom = feature.get("geometry") if isinstance(feature, dict) else None
        props, geom = props or {}, geom or {}
        if not isinstance(props, dict) or not isinstance(geom, dict):
            raise SourceFormatError(
                source, file, f"feature {position}", "a GeoJSON Feature with properties/geometry"
            )
        if geom.get("type") == "Point":
            continue
        name = props.get("name")
        name = name if isinstance(name, str) else None
        named = named or bool(name)
        layer = layer_of(name) if name else (None if named else "prefiltered")
        if layer is None:
            continue
        try:
            shape = _shape(geom)
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            raise SourceFormatError(
                source, file, f"feature {position} ({name!r}): {exc}", "polygon coordinates"
            ) from None
        # an emptied polygon would silently shrink the area; self-intersections are repaired
        # (geometry.clean) because the published maps have them
        if shape.is_empty:
            raise SourceFormatError(
                source,
                file,
                f"feature {position} ({name!r}): empty geometry",
                "polygon coordinates",
            )
        layers.setdefault(layer, []).append(shape)

    if named:
        map_format = FULL_LAYER
        missing = [layer for layer in OCCUPIED_LAYERS if not layers.get(layer)]
        if missing:
            raise SourceFormatError(
                source,
                file,
                f"snapshot {snapshot}: no polygon labelled {missing} among {len(features)} "
                "features",
                "the Occupied, Occupied Crimea and CADR and CALR layers (old or new label format)",
            )
        occupied = [g for layer in OCCUPIED_LAYERS for g in layers[layer]]
        grey = layers.get(GREY_ZONE, [])
    else:
        map_format = PREFILTERED
        occupied, grey = layers.get("prefiltered", []), []
    try:
        occupied_area = geometry.union(occupied)
        occupied_km2 = geometry.area_km2(occupied_area)
        # the grey zone is reported beside the occupied area, never inside it
        grey_km2 = (
            geometry.area_km2(geometry.union(grey).difference(occupied_area))
            if map_format == FULL_LAYER
            else None
        )
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise SourceFormatError(
            source, file, f"snapshot {snapshot}: geometry ({exc})", "valid polygon coordinates"
        ) from None
    if not occupied_km2 > 0:
        raise SourceFormatError(
            source, file, f"snapshot {snapshot}: occupied area is {occupied_km2} km²", "> 0"
        )
    return {
        ROW: 1,
        "snapshot": snapshot,
        # naive UTC: no time zone setting of a reader can shift it
        "snapshot_utc": instant.replace(tzinfo=None),
        "map_format": map_format,
        "occupied_km2": occupied_km2,
        "grey_zone_km2": grey_km2,
        "occupied_polygons": len(occupied),
        "grey_zone_polygons": len(grey),
        "outside_ukraine_polygons": len(layers.get(OUTSIDE_UKRAINE, [])),
        "features": len(features),
    }
