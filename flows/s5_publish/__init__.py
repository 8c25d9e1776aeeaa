"""Stage 5, publish: a new snapshot, the atomic switch of `current`, retention and rollback."""
