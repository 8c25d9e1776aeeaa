"""toll's SQL checks as a GX expectation that counts the failing rows and fetches none.

GX's UnexpectedRowsExpectation resolves two metrics from the same query: its row count and a
table of up to 200 of its rows (`unexpected_rows_query.table`, GX's PR #10604 added the count so
"X unexpected rows" is right above 200). Only the COMPLETE result format returns the rows; toll
validates in BASIC (`suites.RESULT_FORMAT`) and selects a failed check's rows itself
(`suites.first_rows`, `failures.write_failures`), so every query ran twice for nothing: 24% of
a gate-only run's py-spy samples at 100x went to the unused table, 18% to the count.

A subclass (GX's documented way to customise an expectation) with only the count as metric;
`suites.validate` runs the SQL checks as this type and reports them as
`unexpected_rows_expectation`, as the suites name them. Imported only where GX runs.
"""

from __future__ import annotations

from typing import ClassVar

from great_expectations.expectations import UnexpectedRowsExpectation

COUNT_METRIC = "unexpected_rows_query.row_count"


class UnexpectedRowsCount(UnexpectedRowsExpectation):
    """Fails when `unexpected_rows_query` selects any row; the result is their count only."""

    metric_dependencies: ClassVar[tuple[str, ...]] = (COUNT_METRIC,)

    def _validate(self, metrics: dict, runtime_configuration=None, execution_engine=None) -> dict:
        count = metrics[COUNT_METRIC]
        return {"success": count == 0, "result": {"observed_value": count}}
