"""Lineage: what each published figure came from (kept in every snapshot), explain and diff."""
