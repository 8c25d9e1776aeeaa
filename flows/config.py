"""Settings: `toll.toml` (optional) overridden by `TOLL_*` environment variables, read once."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "TOLL_CONFIG"


class Settings(BaseSettings):
    """Everything a run can be told; the defaults work with no file at all."""

    model_config = SettingsConfigDict(env_prefix="TOLL_", extra="forbid")

    # Where to read sources: unset means their upstream URLs; a folder means local copies laid
    # out like ../shared/data.
    source_dir: Path | None = None
    # Source catalogue file; unset means the built-in flows/sources.toml (the bench points it
    # at a generated catalogue).
    catalogue: Path | None = None
    warehouse: Path = Path("warehouse")
    verify_checksums: bool = True
    # Build the tables as the data stood on this date: only raw files (vintages) whose as-of
    # date is on or before it. Unset means everything fetched so far.
    as_of: date | None = None

    # A failed nightly or backfill run POSTs a JSON alert here (Slack-style `text` + fields).
    alert_webhook: str | None = None

    http_timeout_seconds: float = 60.0
    http_retries: int = Field(4, ge=1)  # attempts in all, for transient failures only
    http_backoff_seconds: float = Field(0.5, ge=0)  # first wait; doubles up to 8 s

    # Share of names that reach the public lists (BBC/Mediazona's 45-65%).
    coverage_low: float = Field(0.45, gt=0, le=1)
    coverage_high: float = Field(0.65, gt=0, le=1)

    # Donetsk/Luhansk "republic" forces missing from the named lists (Mediazona's range): shown
    # beside the whole-war total, never added to named counts.
    dnr_lnr_addon_low: int = Field(21_000, ge=0)
    dnr_lnr_addon_high: int = Field(23_500, ge=0)

    # Published snapshots kept; older ones are deleted after each publish (never `current`).
    keep_snapshots: int = Field(30, ge=1)

    # Records whose region cannot be mapped: above this share the gate fails.
    max_unmapped_region_share: float = Field(0.05, ge=0, le=1)

    # Territory (DeepState maps), see flows/ingest/deepstate.py and the README:
    # a change of occupied area above this per week between snapshots stops the build;
    territory_max_change_km2_per_week: float = Field(1000.0, gt=0)
    # a day takes the last snapshot at or before its end, if at most this many days old;
    territory_max_snapshot_age_days: int = Field(14, ge=0)
    # the two map formats must agree this closely (error); the Economist series (warning).
    territory_format_tolerance_km2: float = Field(100.0, ge=0)
    territory_economist_tolerance_km2: float = Field(5000.0, ge=0)

    @field_validator("source_dir", "catalogue", "warehouse", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_ENV, "toll.toml"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    def result_affecting(self) -> dict[str, object]:
        """The settings that change published numbers, recorded with every snapshot."""
        return {
            "coverage_low": self.coverage_low,
            "coverage_high": self.coverage_high,
            "dnr_lnr_addon_low": self.dnr_lnr_addon_low,
            "dnr_lnr_addon_high": self.dnr_lnr_addon_high,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "territory_max_change_km2_per_week": self.territory_max_change_km2_per_week,
            "territory_max_snapshot_age_days": self.territory_max_snapshot_age_days,
            "territory_format_tolerance_km2": self.territory_format_tolerance_km2,
            "territory_economist_tolerance_km2": self.territory_economist_tolerance_km2,
        }


def load_settings(**overrides: object) -> Settings:
    """Read settings; keyword overrides (from CLI flags) win over file and environment."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
