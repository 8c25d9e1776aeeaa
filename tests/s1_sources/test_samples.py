"""The sample generators: one per declared source, together exactly the catalogue's files."""

import random

import pytest

from flows.errors import ConfigError
from flows.s1_sources import samples
from flows.s1_sources.catalogue import load_catalogue
from flows.s1_sources.samples.common import Draw


def test_each_generator_writes_exactly_the_files_its_source_declares():
    catalogue = load_catalogue()
    assert sorted(samples.GENERATORS) == sorted(catalogue)
    draw = Draw(seed=7, days=120, rng=random.Random(7))
    for name, generate in samples.GENERATORS.items():
        declared = {f.local for f in catalogue[name].files}
        written = generate(catalogue[name], draw)
        assert set(written) == declared, name
        assert all(isinstance(content, bytes) and content for content in written.values()), name


def test_sample_files_cover_the_catalogue_and_follow_the_seed():
    files = samples.sample_files(seed=3, days=90)
    declared = {f.local for source in load_catalogue().values() for f in source.files}
    assert set(files) == declared
    assert samples.sample_files(seed=3, days=90) == files
    changed = samples.sample_files(seed=4, days=90)
    # the random sources change with the seed; the fixed tables (regions, census) do not
    assert (
        changed["bessudnov/dfFatalitiesAnonymised.csv"]
        != files["bessudnov/dfFatalitiesAnonymised.csv"]
    )
    assert changed["regions/hflabs_region.csv"] == files["regions/hflabs_region.csv"]


def test_a_source_without_a_generator_is_named(monkeypatch):
    generators = {k: v for k, v in samples.GENERATORS.items() if k != "official_claims"}
    monkeypatch.setattr(samples, "GENERATORS", generators)
    with pytest.raises(ConfigError, match="official_claims in sources.toml: no sample generator"):
        samples.sample_files(days=60)


def test_written_sources_are_labelled_as_generated(tmp_path):
    folder = samples.write_sample_sources(tmp_path / "sources", seed=1)
    assert (folder / "GENERATED-SAMPLE-DATA.txt").read_text() == samples.LABEL
    assert (folder / "mediazona" / "last_data.csv").read_bytes().startswith(b"date,change,total")
