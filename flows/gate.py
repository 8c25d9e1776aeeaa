"""The quality gate: Great Expectations suites from `expectations/`, run on the built tables.

Each expectation carries `meta.severity`: `error` blocks publish, `warning` is reported.
Thresholds come from settings through GX suite parameters (`{"$PARAMETER": name}`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

from flows.sql_names import quoted

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


@dataclass(frozen=True)
class Check:
    suite: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    unexpected: int | None
    detail: str

    def describe(self) -> str:
        where = f"{self.suite}.{self.column}" if self.column else self.suite
        count = f" ({self.unexpected} unexpected rows)" if self.unexpected else ""
        return f"{where}: {self.expectation}{count} {self.detail}".rstrip()


def load_suites(folder: Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))
    }


def _as_datetime(value: object) -> object:
    # GX on pandas compares dates only against datetime.datetime.
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return datetime.fromisoformat(value)
    return value


def _prepare(spec: dict) -> dict:
    spec = json.loads(json.dumps(spec))
    for expectation in spec["expectations"]:
        kwargs = expectation["kwargs"]
        for bound in ("min_value", "max_value"):
            if bound in kwargs:
                kwargs[bound] = _as_datetime(kwargs[bound])
    return spec


def run_gate(
    con: duckdb.DuckDBPyConnection,
    parameters: dict[str, object],
    suites: dict[str, dict] | None = None,
) -> list[Check]:
    """Validate every suite against the table or view of the same name."""
    import great_expectations as gx  # slow import: only where validation runs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    suites = load_suites() if suites is None else suites
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch_definition = (
        context.data_sources.add_pandas("toll")
        .add_dataframe_asset("table")
        .add_batch_definition_whole_dataframe("whole")
    )
    params = {
        k: datetime.combine(v, datetime.min.time()) if isinstance(v, date) else v
        for k, v in parameters.items()
    }
    checks: list[Check] = []
    for name, spec in suites.items():
        frame = con.execute(f"select * from {quoted(name, 'suite table')}").df()
        for column in frame.columns:
            if str(frame[column].dtype) == "object" and frame[column].map(type).eq(date).any():
                frame[column] = frame[column].astype("datetime64[us]")
        suite = gx.ExpectationSuite(**_prepare(spec))
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suite, expectation_parameters=params)
        for item in result.results:
            config = item.expectation_config
            error = (
                (item.exception_info or {}).get("exception_message") if not item.success else None
            )
            checks.append(
                Check(
                    suite=name,
                    expectation=config.type,
                    column=config.kwargs.get("column"),
                    severity=(config.meta or {}).get("severity", "error"),
                    success=bool(item.success),
                    unexpected=(item.result or {}).get("unexpected_count"),
                    detail=f"[{error}]" if error else "",
                )
            )
    return checks


def blocking(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.success and c.severity == "error"]
