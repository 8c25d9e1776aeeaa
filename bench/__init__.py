"""toll benchmark harness (see bench/README.md)."""
