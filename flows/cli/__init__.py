"""The `toll` command line (app.py): one command per thing a user does."""

from flows.cli.app import main

__all__ = ["main"]
