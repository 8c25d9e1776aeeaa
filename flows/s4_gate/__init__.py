"""Stage 4, gate: GX suites on DuckDB, failing rows quarantined, Data Docs; errors block publish."""
