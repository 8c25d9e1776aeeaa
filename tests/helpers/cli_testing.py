"""The CLI in-process, with the same error handling as the `toll` script, and mounts for
system faults (a read-only warehouse, a full disk)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app as cli


def toll(*args: str, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Run `toll ARGS` in this process: (exit code, stdout + stderr). An exception the
    script would not turn into one line comes back as its traceback, with exit code None."""
    result = CliRunner().invoke(cli.app, list(args), env=env, catch_exceptions=True)
    output, code = result.output, result.exit_code
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        printed = io.StringIO()
        with redirect_stderr(printed):
            code = cli.handle_error(error)
        if code is None:
            return None, output + "".join(traceback.format_exception(error))
        output += printed.getvalue()
    return code, output


def can_mount() -> bool:
    """Root and a kernel that lets this process mount (a tmpfs, a read-only bind)."""
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder` seen through a read-only bind mount (root ignores file modes, not mounts)."""
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True)
        view.rmdir()


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """An empty tmpfs of `size` (e.g. "40m") mounted on `folder`, unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
