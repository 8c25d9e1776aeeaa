"""Areas of map polygons in km²: 2D, made valid, united, then measured in an equal-area projection.

The projection is an Albers equal-area conic on the WGS84 ellipsoid, standard parallels 45°N and
51°N, centred on 48°N 34°E (Ukraine lies between 44°N and 52.5°N). An equal-area projection keeps
ellipsoidal area exactly; the only difference from a geodesic measure is that edges are straight
in the projection rather than geodesics, which for map vertices metres to a few kilometres apart
is far below 1 km² (tests compare it with `pyproj.Geod`). The union is taken in longitude/latitude
(topology does not depend on the projection) and only the result is projected.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer

EQUAL_AREA_CRS = "+proj=aea +lat_1=45 +lat_2=51 +lat_0=48 +lon_0=34 +ellps=WGS84 +units=m +no_defs"
WGS84 = Geod(ellps="WGS84")


@lru_cache(maxsize=1)
def _to_equal_area() -> Transformer:
    return Transformer.from_crs("EPSG:4326", EQUAL_AREA_CRS, always_xy=True)


def _project(coords: np.ndarray) -> np.ndarray:
    x, y = _to_equal_area().transform(coords[:, 0], coords[:, 1])
    return np.column_stack((x, y))


def polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """Only the areal parts (polygons) of a geometry: make_valid may add lines or points."""
    if shapely.get_type_id(geometry) in (3, 6):  # Polygon, MultiPolygon
        return geometry
    parts = shapely.get_parts(geometry)
    polygons = [p for p in parts if shapely.get_type_id(p) in (3, 6)]
    nested = [polygonal(p) for p in parts if shapely.get_type_id(p) == 7]
    return shapely.union_all([*polygons, *nested]) if polygons or nested else shapely.Polygon()


def clean(geometries: Sequence[shapely.Geometry]) -> list[shapely.Geometry]:
    """2D and valid: drop the z coordinate, repair self-intersections, keep only the areas."""
    flat = shapely.force_2d(np.asarray(geometries, dtype=object))
    repaired = shapely.make_valid(flat)
    return [polygonal(g) for g in repaired]


def union(geometries: Sequence[shapely.Geometry]) -> shapely.Geometry:
    """One geometry covering all of them (overlaps counted once)."""
    if not len(geometries):
        return shapely.Polygon()
    return polygonal(shapely.union_all(clean(geometries)))


def area_km2(geometry: shapely.Geometry) -> float:
    """Area in km² of a longitude/latitude geometry, in the equal-area projection."""
    if geometry.is_empty:
        return 0.0
    return float(shapely.area(shapely.transform(geometry, _project))) / 1e6


def geodesic_area_km2(geometry: shapely.Geometry) -> float:
    """Area on the WGS84 ellipsoid (slower; used to check the projection)."""
    return abs(WGS84.geometry_area_perimeter(geometry)[0]) / 1e6


def occupied_area_km2(geometries: Sequence[shapely.Geometry]) -> float:
    """Area of the union of the given polygons, in km²."""
    return area_km2(union(geometries))
