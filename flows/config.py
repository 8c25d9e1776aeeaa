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

from flows.errors import ConfigError

CONFIG_FILE_ENV = "TOLL_CONFIG"
# What a setting feeds, kept with the field itself: `result` settings change published numbers
# (recorded with every snapshot, part of its fingerprint, DuckDB variables the SQL reads);
# `gate` settings are thresholds the suites read as `$name`.
RESULT = {"feeds": "result"}
GATE = {"feeds": "gate"}


class Settings(BaseSettings):
    """Everything a run can be told; the defaults work with no file at all."""

    model_config = SettingsConfigDict(env_prefix="TOLL_", extra="forbid")

    # Where to read sources: unset means their upstream URLs; a folder means local copies laid
    # out like ../shared/data.
    source_dir: Path | None = None
    # Source catalogue file; unset means the built-in flows/sources.toml (the bench points it
    # at a generated catalogue).
    catalogue: Path | None = None
    # a local folder, or s3://bucket/prefix (README: 'Warehouse on object storage')
    warehouse: Path | str = Path("warehouse")
    verify_checksums: bool = True
    # Build the tables as the data stood on this date: only raw files (vintages) whose as-of
    # date is on or before it. Unset means everything fetched so far.
    as_of: date | None = Field(None, json_schema_extra=RESULT)

    # A failed nightly or backfill run POSTs a JSON alert here (Slack-style `text` + fields).
    alert_webhook: str | None = None

    # Where `toll docs` serves the warehouse's Data Docs (docs/<run>/index.html): the Prefect
    # UI's Data Docs links point here, since a browser will not follow file:// from a web page.
    docs_url: str = "http://127.0.0.1:8765"

    http_timeout_seconds: float = 60.0
    http_retries: int = Field(4, ge=1)  # attempts in all, for transient failures only
    http_backoff_seconds: float = Field(0.5, ge=0)  # first wait; doubles up to 8 s

    # Share of names that reach the public lists (BBC/Mediazona's 45-65%).
    coverage_low: float = Field(0.45, gt=0, le=1, json_schema_extra=RESULT)
    coverage_high: float = Field(0.65, gt=0, le=1, json_schema_extra=RESULT)
    # Weeks after its end during which a period's named count is marked provisional (the
    # `period_state` columns): measured in sql/macros/common.sql (period_state).
    provisional_weeks: int = Field(112, ge=0, json_schema_extra=RESULT)

    # Donetsk/Luhansk "republic" forces missing from the named lists (Mediazona's range): shown
    # beside the whole-war total, never added to named counts.
    dnr_lnr_addon_low: int = Field(21_000, ge=0, json_schema_extra=RESULT)
    dnr_lnr_addon_high: int = Field(23_500, ge=0, json_schema_extra=RESULT)

    # Published snapshots kept; older ones are deleted after each publish (never `current`).
    keep_snapshots: int = Field(30, ge=1)
    # On object storage: a snapshot prefix with no `_snapshot.json` older than this is a dead
    # run's, deleted by the sweeper at the next run's start (a live run never takes this long:
    # the 100x cold run takes 37 s; a real run waits on upstream fetches at most ~1 h).
    longest_run_hours: float = Field(6.0, gt=0)
    # On object storage, in a deployment's run: a source with more files to fetch than this is
    # cut into `ingest-part` flow runs of at most this many files, taken by any worker of the
    # pool (flows/pipeline/spread.py); 0: every file is fetched and parsed by the run itself.
    ingest_spread_files: int = Field(0, ge=0)
    # ... and a part not finished this long after it was submitted fails the run (no worker on
    # the `ingest` queue, say); a part of 40 demo maps takes seconds.
    ingest_part_timeout_minutes: float = Field(60.0, gt=0)

    # Records whose region cannot be mapped: above this share the gate fails.
    max_unmapped_region_share: float = Field(0.05, ge=0, le=1, json_schema_extra=GATE)
    # Quality-gate thresholds (expectations/ reads them as parameters; see flows/gate.py).
    # Rows quarantined per source (parse rejects + failed row checks): above this share, error.
    max_quarantine_share: float = Field(0.01, ge=0, le=1, json_schema_extra=GATE)
    # ... and only from this many rows on (in a small source one bad row is a large share).
    quarantine_error_min_rows: int = Field(3, ge=1, json_schema_extra=GATE)
    # Row counts and key totals against the previous published snapshot: outside, error.
    snapshot_min_ratio: float = Field(0.9, ge=0, json_schema_extra=GATE)
    snapshot_max_ratio: float = Field(2.0, ge=1, json_schema_extra=GATE)
    # Rows a source may lose against the raw files the previous snapshot was built from (read:
    # parsed or quarantined, all its files): more is an error, unless --accept-shrink SOURCE.
    max_source_row_drop_share: float = Field(0.01, ge=0, le=1, json_schema_extra=GATE)
    # Sources whose shrink (dates, days or keys the previous snapshot had) this run accepts,
    # comma-separated: an intended upstream correction, given per run with --accept-shrink.
    accept_shrink: str = Field("", json_schema_extra=GATE)
    # A new Mediazona vintage may lower a past week by at most this share plus this many names.
    vintage_max_week_drop_share: float = Field(0.02, ge=0, le=1, json_schema_extra=GATE)
    vintage_max_week_drop_abs: int = Field(20, ge=0, json_schema_extra=GATE)
    # Plausible daily claimed personnel (the largest real one is 3,160 on 2022-03-03).
    max_claimed_daily: int = Field(5_000, ge=0, json_schema_extra=GATE)
    # Day-to-day change of occupied area (the war's first days moved it by up to 38,305 km2).
    max_occupied_daily_change_km2: float = Field(40_000, ge=0, json_schema_extra=GATE)
    # Named deaths in a year above official claims times this factor: warning.
    named_to_claims_max_factor: float = Field(1.0, gt=0, json_schema_extra=GATE)
    # Relative disagreement per year between two series of the same quantity: warning.
    cross_source_tolerance: float = Field(0.1, ge=0, json_schema_extra=GATE)

    # Territory (DeepState maps), see flows/ingest/deepstate.py and the README:
    # a change of occupied area above this per week between snapshots stops the build;
    territory_max_change_km2_per_week: float = Field(1000.0, gt=0, json_schema_extra=RESULT)
    # a day takes the last snapshot at or before its end, if at most this many days old;
    territory_max_snapshot_age_days: int = Field(14, ge=0, json_schema_extra=RESULT)
    # the two map formats must agree this closely (error); the Economist series (warning).
    territory_format_tolerance_km2: float = Field(100.0, ge=0, json_schema_extra=RESULT)
    territory_economist_tolerance_km2: float = Field(5000.0, ge=0, json_schema_extra=RESULT)

    @field_validator("warehouse", mode="before")
    @classmethod
    def _folder_or_url(cls, value: object) -> object:
        url = object_url(value)
        if url is not None:
            return url
        return Path(value) if isinstance(value, str) else value

    @field_validator("source_dir", "catalogue", "warehouse", mode="after")
    @classmethod
    def _expand(cls, value: Path | str | None) -> Path | str | None:
        if value is None or isinstance(value, str):  # an s3:// URL stays as given
            return value
        return value.expanduser().resolve()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = config_file()
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    def result_affecting(self) -> dict[str, object]:
        """The settings that change published numbers, recorded with every snapshot."""
        values = self.feeding("result")
        return {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}

    def feeding(self, what: str) -> dict[str, object]:
        """The settings whose field is marked as feeding `what` ("result" or "gate")."""
        return {
            name: getattr(self, name)
            for name, info in type(self).model_fields.items()
            if (info.json_schema_extra or {}).get("feeds") == what
        }


def object_url(value: object) -> str | None:
    """`s3://bucket/prefix` when `value` names object storage, else None.

    A command-line flag arrives as a Path, and pathlib turns s3://bucket/x into s3:/bucket/x
    (a local folder named "s3:"): the URL is restored from either form."""
    text = str(value) if isinstance(value, (str, Path)) else ""
    if not text.startswith("s3:/"):
        return None
    return "s3://" + text[len("s3:/") :].lstrip("/")  # an empty bucket is S3Storage's to refuse


def config_file() -> Path:
    """The settings file of this project: `toll.toml` here, or the file TOLL_CONFIG names."""
    return Path(os.environ.get(CONFIG_FILE_ENV, "toll.toml"))


def remember(**values: object) -> tuple[Path, dict[str, object]]:
    """Write settings into the project's settings file (other keys kept); returns what it holds.

    What `make run` used (the local source folder, say) is then what every later command, worker
    and deployment started from this folder uses, with no variable to set again."""
    import toml

    path = config_file()
    try:
        current = toml.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, toml.TomlDecodeError) as exc:
        raise ConfigError(
            f"settings file {path}: cannot read it ({exc}); fix or remove it"
        ) from None
    for key, value in values.items():
        if value is None:
            continue
        if key not in Settings.model_fields:
            raise ConfigError(f"settings file {path}: unknown setting {key!r}")
        if key == "source_dir" and not Path(value).expanduser().is_dir():
            raise ConfigError(f"source_dir {value}: no such folder (expected local copies)")
        if isinstance(value, Path) and object_url(value) is None:
            value = str(value.expanduser().resolve())
        current[key] = object_url(value) or value
    try:
        Settings(**current)  # refuse what a run would refuse, before writing it
    except ValueError as exc:
        raise ConfigError(f"settings file {path}: {exc}") from None
    path.write_text(
        "# toll's settings for this project (`toll init`); TOLL_* variables and flags override.\n"
        + toml.dumps(current),
        encoding="utf-8",
    )
    return path, current


def load_settings(**overrides: object) -> Settings:
    """Read settings; keyword overrides (from CLI flags) win over file and environment."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        # one line per bad setting, never a traceback
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(
            f"invalid setting: {problems} (from a flag, a TOLL_* variable or toll.toml)"
        ) from None
