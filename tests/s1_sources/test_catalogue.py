"""The catalogue is parsed once per content: an edited file is read again."""

from __future__ import annotations

from flows.s1_sources import catalogue as cat

ONE = """[sources.claims]
title = "claims"
format = "ua_general_staff_json"
licence = "test"
[[sources.claims.files]]
local = "a.json"
url = "https://example.invalid/a.json"
"""


def test_parsed_once_and_again_when_edited(tmp_path, monkeypatch) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(ONE)
    parsed = []
    parse = cat._parse_catalogue
    monkeypatch.setattr(cat, "_parse_catalogue", lambda p, text: parsed.append(p) or parse(p, text))
    first = cat.load_catalogue(path)
    second = cat.load_catalogue(path)
    assert parsed == [path] and first == second
    second.pop("claims")  # each caller gets its own dict
    assert "claims" in cat.load_catalogue(path)
    # edited at once, same size and (likely) the same mtime tick: known by its content
    path.write_text(ONE.replace('title = "claims"', 'title = "claimz"'))
    assert cat.load_catalogue(path)["claims"].title == "claimz"
    assert len(parsed) == 2


def test_a_catalogue_that_is_not_utf8_is_one_clear_error(tmp_path) -> None:
    import pytest

    from flows.errors import ConfigError

    path = tmp_path / "sources.toml"
    path.write_bytes(ONE.encode() + b"# \xef\xf0\xe8\xec\n")  # cp1251, not UTF-8
    with pytest.raises(ConfigError, match="expected a readable TOML file"):
        cat.load_catalogue(path)
