"""Stage 1, sources: what each source is and where its files live (sources.toml)."""
