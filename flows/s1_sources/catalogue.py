"""The source catalogue (`sources.toml`): what each source is and where its files live."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

from flows.config import Settings
from flows.errors import ConfigError
from flows.s1_sources.terms import Terms, parse_terms
from flows.warehouse.sql_names import identifier

CATALOGUE = Path(__file__).with_name("sources.toml")


@dataclass(frozen=True)
class SourceFile:
    source: str
    local: str
    url: str
    sha256: str | None = None
    as_of: date | None = None
    # a dated upstream file that may not be published yet: "not found" is skipped, not an error
    optional: bool = False

    @property
    def recompressed(self) -> bool:
        """A local copy named *.gz is `gzip -9 -n` of the upstream file (zcat gives it back)."""
        return self.local.endswith(".gz")

    @property
    def name(self) -> str:
        # a re-compressed local copy is stored as the upstream file it stands for
        name = PurePosixPath(self.local).name
        return name.removesuffix(".gz") if self.recompressed else name

    def location(self, settings: Settings) -> str:
        """The URL a run reads: upstream, or file:// under the source folder."""
        if settings.source_dir is None:
            return self.url
        path = settings.source_dir / self.local
        # A link inside the source folder may point anywhere; its target is read only when it
        # stays inside the folder, and its content is never quoted in the refusal.
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(settings.source_dir.resolve()):
                raise ConfigError(
                    f"source '{self.source}', file {self.local}: a symbolic link to {target}, "
                    f"outside the source folder {settings.source_dir}: refused (copy the file "
                    "into the folder instead)"
                )
        return path.as_uri()


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    format: str
    licence: str
    files: tuple[SourceFile, ...]
    keep_all_vintages: bool = False
    # templates ({date:%Y%m%d}) of one upstream file a day, fetched by runs on upstream URLs
    daily_url: str | None = None
    daily_local: str | None = None
    # terms of use (licence, credit); a catalogue without them still loads, and every table
    # built from such a source is flagged as built from an unlicensed input
    terms: tuple[Terms, ...] = ()

    def daily_files(self, days: list[date]) -> tuple[SourceFile, ...]:
        """The dated upstream files of these days (optional: a day may not be published yet)."""
        if not self.daily_url or not self.daily_local:
            return ()
        return tuple(
            SourceFile(
                source=self.name,
                local=_safe_relative(self.name, self.daily_local.format(date=day)),
                url=self.daily_url.format(date=day),
                as_of=day,
                optional=True,
            )
            for day in days
        )


def _safe_relative(source: str, local: str) -> str:
    # A catalogue entry must never read or write outside the source folder / warehouse.
    path = PurePosixPath(local)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ConfigError(
            f"source '{source}': local path {local!r}: expected a relative path without '..' "
            "(a catalogue entry cannot read or write outside its folder)"
        )
    return local


# Parsed catalogues by content: a run reads the catalogue a dozen times (fetch, build, gate,
# lineage, publish), and the benchmark's at 100x (5,200 files, 956 KB of TOML) took 0.2 s a
# parse, 0.8 s a run; reading and hashing it takes 2 ms. An edited file is parsed again.
_PARSED: dict[bytes, dict[str, Source]] = {}


def load_catalogue(path: Path | None = None) -> dict[str, Source]:
    """Parse the catalogue (default: the built-in one); order of sources and files is kept."""
    path = Path(path or CATALOGUE)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"source catalogue {path}: expected a readable TOML file with [sources.<name>] "
            f"tables ({type(exc).__name__}: {exc})"
        ) from exc
    key = hashlib.blake2b(text, digest_size=16).digest()
    if key not in _PARSED:
        _PARSED[key] = _parse_catalogue(path, text)
    return dict(_PARSED[key])  # Sources are frozen; the dict is the caller's own


def _parse_catalogue(path: Path, text: bytes) -> dict[str, Source]:
    try:
        raw = tomllib.loads(text.decode("utf-8"))["sources"]
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise ConfigError(
            f"source catalogue {path}: expected a readable TOML file with [sources.<name>] "
            f"tables ({type(exc).__name__}: {exc})"
        ) from exc
    catalogue: dict[str, Source] = {}
    for name, spec in raw.items():
        # The name becomes a folder under raw/ and a SQL view name: nothing but [A-Za-z0-9_].
        identifier(name, "source name")
        try:
            catalogue[name] = _source(name, spec)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(
                f"source catalogue {path}, source '{name}': expected title, format, licence and "
                f"files with local and url, as_of as YYYY-MM-DD ({type(exc).__name__}: {exc})"
            ) from exc
    return catalogue


def _source(name: str, spec: dict) -> Source:
    files = tuple(
        SourceFile(
            source=name,
            local=_safe_relative(name, f["local"]),
            url=f["url"],
            sha256=f.get("sha256"),
            as_of=date.fromisoformat(f["as_of"]) if "as_of" in f else None,
        )
        for f in spec["files"]
    )
    return Source(
        name,
        spec["title"],
        spec["format"],
        spec["licence"],
        files,
        keep_all_vintages=spec.get("keep", "latest") == "all",
        daily_url=spec.get("daily_url"),
        daily_local=spec.get("daily_local"),
        terms=tuple(parse_terms(name, spec["terms"])) if "terms" in spec else (),
    )
