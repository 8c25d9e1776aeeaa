"""DeepState snapshots: labels in both formats, exclusions, geometry repair, area, errors."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

import pytest
import shapely

from flows.errors import SourceFormatError, TollError
from flows.s2_ingest import parallel
from flows.s2_ingest.parallel import parse_many
from flows.s2_ingest.parsers import deepstate, geometry

OLD = {
    "occupied": "Окуповано /// Occupied",
    "occupied_crimea": "Окупований Крим /// Occupied Crimea",
    "cadr_calr": "ОРДЛО /// CADR and CALR",
    "grey_zone": "Статус невідомий /// Unknown status",
}
# the format from about 2024-03-24, with the trailing newlines and NBSPs of the real files
NEW = {
    "occupied": "Окуповано /// Occupied /// geoJSON.status.occupied\n",
    "occupied_crimea": "Окупований Крим /// Occupied Crimea\xa0/// geoJSON.territories.crimea",
    "cadr_calr": "ОРДЛО /// CADR and CALR\xa0/// geoJSON.territories.ordlo",
    "grey_zone": "Статус невідомий /// Unknown status\xa0/// geoJSON.status.unknown\n",
}
TRANSNISTRIA = "Придністров'я/// Transnistria /// geoJSON.territories.transnistria"
ABKHAZIA = "Окупована Абхазія.\n///\nOccupied Abkhazia."
FULL_NAME = "1711314501.geojson"  # 2024-03-24 21:08:21 UTC


def square(lon: float, lat: float, size: float = 1.0, z: bool = True) -> list:
    corners = [(lon, lat), (lon + size, lat), (lon + size, lat + size), (lon, lat + size)]
    ring = [[x, y, 0] if z else [x, y] for x, y in [*corners, corners[0]]]
    return [ring]


def polygon(name: str, rings: list) -> dict:
    return {
        "type": "Feature",
        "properties": {"name": name, "styleUrl": "#poly"},
        "geometry": {"type": "Polygon", "coordinates": rings},
    }


def collection(*features: dict) -> bytes:
    point = {
        "type": "Feature",
        "properties": {"name": "Аеродром /// Airfield"},
        "geometry": {"type": "Point", "coordinates": [36.0, 48.0, 0]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [point, *features]}).encode()


def three_layers(labels: dict, **extra: dict) -> bytes:
    # three separate 1°x1° squares, one per occupied layer
    return collection(
        polygon(labels["occupied"], square(37, 47)),
        polygon(labels["occupied_crimea"], square(34, 45)),
        polygon(labels["cadr_calr"], square(39, 48)),
        *extra.values(),
    )


def area(*squares: tuple[float, float]) -> float:
    return sum(geometry.area_km2(shapely.box(x, y, x + 1, y + 1)) for x, y in squares)


def test_labels_of_both_formats_give_the_same_area() -> None:
    old = deepstate.parse_snapshot("territory", FULL_NAME, three_layers(OLD)).rows
    new = deepstate.parse_snapshot("territory", FULL_NAME, three_layers(NEW)).rows
    expected = area((37, 47), (34, 45), (39, 48))
    assert 20_000 < expected < 30_000  # three squares of about 8,000 km² each
    assert old["occupied_km2"][0] == pytest.approx(expected)
    assert new["occupied_km2"][0] == pytest.approx(expected)
    assert old["occupied_polygons"][0] == new["occupied_polygons"][0] == 3


def test_new_labels_are_recognised_by_their_key_when_the_words_are_broken() -> None:
    # a real label with broken characters in the Ukrainian part
    assert deepstate.layer_of("��куповано /// Occupied /// geoJSON.status.occupied\n") == (
        "occupied"
    )
    assert deepstate.layer_of("Окуповано /// Occupied\xa0/// geoJSON.status.occupied") == (
        "occupied"
    )
    assert deepstate.layer_of("Звільнено /// Liberated /// geoJSON.status.dismissed") is None
    assert deepstate.layer_of("Острів Тузла /// Occupied Tuzla Island") is None


def test_old_label_only_matching_would_find_nothing_in_new_files() -> None:
    old_exact = set(OLD.values())
    assert not old_exact & set(NEW.values())
    rows = deepstate.parse_snapshot("territory", FULL_NAME, three_layers(NEW)).rows
    assert rows["occupied_km2"][0] > 20_000


def test_territories_outside_ukraine_are_excluded_and_counted() -> None:
    content = three_layers(
        NEW,
        transnistria=polygon(TRANSNISTRIA, square(29, 47)),
        abkhazia=polygon(ABKHAZIA, square(40.5, 43)),
    )
    row = deepstate.parse_snapshot("territory", FULL_NAME, content).rows.row(0, named=True)
    assert row["occupied_km2"] == pytest.approx(area((37, 47), (34, 45), (39, 48)))
    assert row["outside_ukraine_polygons"] == 2
    assert row["occupied_polygons"] == 3


def test_grey_zone_reported_separately_including_a_geometry_collection() -> None:
    grey = {
        "type": "Feature",
        "properties": {"name": NEW["grey_zone"]},
        "geometry": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "coordinates": square(36, 47, 0.5)},
                {"type": "Polygon", "coordinates": square(36, 47.5, 0.5)},
            ],
        },
    }
    row = deepstate.parse_snapshot("territory", FULL_NAME, three_layers(NEW, grey=grey)).rows
    expected_grey = geometry.area_km2(shapely.box(36, 47, 36.5, 48))
    assert row["grey_zone_km2"][0] == pytest.approx(expected_grey)
    assert row["occupied_km2"][0] == pytest.approx(area((37, 47), (34, 45), (39, 48)))


def test_self_intersecting_ring_is_repaired_not_cancelled() -> None:
    # a bow tie: as drawn, its two halves have opposite orientation and a naive area is 0
    bowtie = [[[37, 47, 0], [38, 48, 0], [38, 47, 0], [37, 48, 0], [37, 47, 0]]]
    assert shapely.Polygon([p[:2] for p in bowtie[0]]).area == 0
    content = collection(
        polygon(NEW["occupied"], bowtie),
        polygon(NEW["occupied_crimea"], square(34, 45)),
        polygon(NEW["cadr_calr"], square(39, 48)),
    )
    row = deepstate.parse_snapshot("territory", FULL_NAME, content).rows
    triangles = shapely.MultiPolygon(
        [
            shapely.Polygon([(37, 47), (37.5, 47.5), (37, 48)]),
            shapely.Polygon([(38, 47), (38, 48), (37.5, 47.5)]),
        ]
    )
    assert row["occupied_km2"][0] == pytest.approx(
        geometry.area_km2(triangles) + area((34, 45), (39, 48))
    )


def test_touching_polygons_sum_and_overlaps_count_once() -> None:
    touching = collection(
        polygon(NEW["occupied"], square(37, 47)),
        polygon(NEW["occupied"], square(38, 47)),  # shares an edge with the first
        polygon(NEW["occupied_crimea"], square(34, 45, z=False)),  # 2D beside 3D
        polygon(NEW["cadr_calr"], square(39, 47)),  # shares an edge with the second
    )
    row = deepstate.parse_snapshot("territory", FULL_NAME, touching).rows
    assert row["occupied_km2"][0] == pytest.approx(area((37, 47), (38, 47), (34, 45), (39, 47)))
    overlapping = collection(
        polygon(NEW["occupied"], square(37, 47)),
        polygon(NEW["occupied"], square(37, 47)),  # drawn twice
        polygon(NEW["occupied_crimea"], square(34, 45)),
        polygon(NEW["cadr_calr"], square(37.5, 47)),  # half over the first
    )
    row = deepstate.parse_snapshot("territory", FULL_NAME, overlapping).rows
    # the union as three disjoint strips (the vertices the union has, so edges match exactly)
    strips = [shapely.box(x, 47, x + 0.5, 48) for x in (37, 37.5, 38)]
    united = sum(geometry.area_km2(s) for s in strips) + area((34, 45))
    assert row["occupied_km2"][0] == pytest.approx(united)


def test_equal_area_projection_agrees_with_geodesic_area() -> None:
    shape = shapely.Polygon([(33, 45), (40, 46), (38.5, 50), (35, 49.5), (33, 45)])
    shape = shapely.segmentize(shape, 0.01)  # vertices ~1 km apart, like the maps
    projected, geodesic = geometry.area_km2(shape), geometry.geodesic_area_km2(shape)
    assert projected == pytest.approx(geodesic, rel=1e-4)


def test_missing_occupied_layer_is_an_error_naming_the_snapshot() -> None:
    content = collection(
        polygon(NEW["occupied"], square(37, 47)),
        polygon(NEW["cadr_calr"], square(39, 48)),
        polygon(NEW["grey_zone"], square(36, 47)),
    )
    with pytest.raises(SourceFormatError, match=r"1711314501\.geojson.*occupied_crimea"):
        deepstate.parse_snapshot("territory", FULL_NAME, content)
    renamed = collection(polygon("Occupied areas (new wording)", square(37, 47)))
    with pytest.raises(SourceFormatError, match="no polygon labelled"):
        deepstate.parse_snapshot("territory", FULL_NAME, renamed)


def test_prefiltered_file_and_instants_from_file_names() -> None:
    content = json.dumps(
        {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [square(37, 47, z=False), square(34, 45, z=False)],
                    },
                }
            ],
        }
    ).encode()
    name = "deepstate/cyterat_weekly/deepstatemap_data_20240708.geojson.gz"
    row = deepstate.parse_snapshot("territory", name, gzip.compress(content)).rows.row(
        0, named=True
    )
    assert row["snapshot"] == "deepstatemap_data_20240708.geojson"
    assert row["snapshot_utc"] == datetime(2024, 7, 8, 3, 0)
    assert row["map_format"] == "prefiltered"
    assert row["grey_zone_km2"] is None
    assert row["occupied_km2"] == pytest.approx(area((37, 47), (34, 45)))
    full = deepstate.parse_snapshot("territory", FULL_NAME, three_layers(NEW)).rows
    assert full["snapshot_utc"][0] == datetime(2024, 3, 24, 21, 8, 21)
    assert full["map_format"][0] == "full_layer"
    with pytest.raises(SourceFormatError, match="file name"):
        deepstate.parse_snapshot("territory", "latest.geojson", content)


def test_parallel_parse_equals_in_process_and_errors_name_the_file() -> None:
    files = [(f"{1711314501 + n}.geojson", three_layers(NEW)) for n in range(5)]
    pooled = parse_many("deepstate_geojson", "territory", files, max_workers=2)
    alone = parse_many("deepstate_geojson", "territory", files, max_workers=1)
    assert [p.rows.to_dicts() for p in pooled] == [a.rows.to_dicts() for a in alone]
    broken = [*files, ("1711399999.geojson", collection(polygon(OLD["occupied"], square(1, 1))))]
    with pytest.raises(SourceFormatError, match="1711399999.geojson"):
        parse_many("deepstate_geojson", "territory", broken, max_workers=2)
    # two bad files in the two workers' shares: the first in the given order is the error
    bad = collection(polygon(OLD["occupied"], square(1, 1)))
    two = [files[0], ("1711300001.geojson", bad), ("1711300002.geojson", bad), *files[1:]]
    with pytest.raises(SourceFormatError, match="1711300001.geojson") as raised:
        parse_many("deepstate_geojson", "territory", two, max_workers=2)
    assert (raised.value.source, raised.value.file) == ("territory", "1711300001.geojson")


def test_parallel_parse_worker_that_cannot_run_is_a_clear_error(monkeypatch) -> None:
    files = [(f"{1711314501 + n}.geojson", three_layers(NEW)) for n in range(5)]
    monkeypatch.setattr(parallel.sys, "executable", "/bin/false")
    with pytest.raises(TollError, match="source 'territory': a map parser process exited 1"):
        parse_many("deepstate_geojson", "territory", files, max_workers=2)
