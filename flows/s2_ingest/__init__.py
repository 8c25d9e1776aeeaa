"""Stage 2, ingest: fetch source files, keep them raw, parse each format into typed rows."""
