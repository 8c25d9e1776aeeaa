"""A source's terms of use as the catalogue declares them (`[[sources.<name>.terms]]`)."""

from __future__ import annotations

from dataclasses import dataclass

from flows.errors import ConfigError

UNLICENSED = "none"


@dataclass(frozen=True)
class Licence:
    name: str
    url: str
    share_alike: bool = False
    copyleft: bool = False


LICENCES = {
    "CC-BY-4.0": Licence("CC BY 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": Licence(
        "CC BY-SA 4.0", "https://creativecommons.org/licenses/by-sa/4.0/", share_alike=True
    ),
    "MIT": Licence("MIT", "https://opensource.org/license/mit"),
    "GPL-3.0-only": Licence(
        "GNU GPL 3.0", "https://www.gnu.org/licenses/gpl-3.0.html", copyleft=True
    ),
    UNLICENSED: Licence("no licence stated", ""),
}


@dataclass(frozen=True)
class Terms:
    licence: str
    credit: str
    part: str = ""  # which files of the source, when they differ
    notice: str = ""  # a copyright notice the licence asks to keep
    note: str = ""


def parse_terms(source: str, raw: object) -> list[Terms]:
    """The `terms` of one catalogue entry; a clear error naming the source and field."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f"source catalogue, source '{source}': expected [[sources.{source}.terms]] with "
            "licence and credit"
        )
    terms = []
    for i, entry in enumerate(raw, 1):
        allowed = {"licence", "credit", "part", "notice", "note"}
        if not isinstance(entry, dict) or not {"licence", "credit"} <= set(entry) <= allowed:
            raise ConfigError(
                f"source catalogue, source '{source}', terms #{i}: expected licence and credit "
                f"(optional part, notice, note), found {entry!r}"
            )
        if entry["licence"] not in LICENCES:
            raise ConfigError(
                f"source catalogue, source '{source}', terms #{i}: licence {entry['licence']!r}: "
                f"expected one of {sorted(LICENCES)}"
            )
        terms.append(Terms(**{k: str(v) for k, v in entry.items()}))
    return terms
