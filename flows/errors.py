"""Errors a user can act on: each names the source, where in it, and what was expected."""

from __future__ import annotations

import errno
import logging
import re
import shutil
from pathlib import Path


class TollError(Exception):
    """Base of every error toll reports to the user without a traceback."""

    # one line by default: a newline in it came from data (a path, a quoted value); errors that
    # list things one per line (a failed gate, a subprocess's output) say so
    multiline = False

    def __reduce__(self):
        # subclasses take other arguments than their message: rebuild without calling
        # __init__, so errors survive the trip back from a worker process
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[TollError], args: tuple, state: dict) -> TollError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(TollError, ValueError):
    """A setting or catalogue entry that toll refuses (e.g. a path leaving its folder)."""


class ModelFailed(TollError, ValueError):
    """A SQL model stopped the build: a data check inside it (DuckDB `error()`) or a bad query."""


class SuiteError(TollError, ValueError):
    """An expectation suite or SQL check in expectations/ that the gate cannot load or run."""


class SourceUnavailable(TollError):
    def __init__(self, source: str, url: str, reason: str) -> None:
        super().__init__(
            f"source '{source}': cannot fetch {url}: {reason}. To run on local copies, set "
            "TOLL_SOURCE_DIR (e.g. TOLL_SOURCE_DIR=../shared/data toll run) or `source_dir` in "
            "toll.toml."
        )
        self.source, self.url = source, url


class ChecksumMismatch(TollError):
    def __init__(self, source: str, url: str, expected: str, actual: str) -> None:
        super().__init__(
            f"source '{source}': {url} has sha256 {actual}, expected {expected} (the pinned "
            "file changed or the download is corrupt); nothing was stored"
        )
        self.source, self.url = source, url


class SourceFormatError(TollError):
    def __init__(self, source: str, file: str, where: str, expected: str) -> None:
        super().__init__(f"source '{source}', file {file}: {where}: expected {expected}")
        self.source, self.file = source, file


class GateFailed(TollError):
    multiline = True
    # The name of the Failed state a run ends in when its gate fails: the UI shows it, and
    # alerts and `toll history` recognise a gate failure by it (never by the message text).
    STATE = "GateFailed"

    def __init__(self, failures: list[str]) -> None:
        listed = "\n  - ".join(failures)
        super().__init__(f"quality gate failed, nothing published:\n  - {listed}")
        self.failures = failures


# One line per stage of a run ("fetched 10 sources: 3 new files"), shown by the CLI at INFO
# while Prefect's own run logs stay at WARNING there.
PROGRESS_LOGGER = "toll.progress"


class HideTollErrorTracebacks(logging.Filter):
    """Log a TollError as its message only: it already says what went wrong and where.

    Prefect logs every failed task and flow with its traceback; for errors toll raised on
    purpose (bad input, unreachable source, failed gate) that is noise around the message, and
    so it is for the system's (a full disk, a folder that cannot be written: the CLI prints
    one line for them).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        # DuckDB's full-disk or read-only exceptions too (TransactionException, IOException)
        if error is not None and (
            isinstance(error, (TollError, OSError)) or refused_write(error) is not None
        ):
            record.exc_info = None
            record.exc_text = None
        return True


def plain_log_consoles() -> None:
    """Print log messages as they are: no emoji codes or markup read in them.

    Prefect's console handler prints through a rich Console whose emoji codes are on, so a file
    line quoted in an error (`:x:`) was logged as an emoji; the message itself (the state's,
    the API's) was never changed. Called once logging is set up (a run's start)."""
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            console = getattr(handler, "console", None)
            if console is not None and hasattr(console, "_emoji"):
                console._emoji = False
                console._markup = False


# The system's refusals to write: a full disk or quota, a read-only or forbidden folder.
WRITE_FAULTS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
# DuckDB reports them in its own exceptions (IOException, TransactionException "Failed to
# commit: Could not write file ...wal": No space left on device), with the system's words.
_DUCKDB_FAULT = re.compile(
    r'(?:Could not write file|Cannot open file|Could not (?:truncate|sync|create)[^"]*) "([^"]+)"'
    r"[^:]*: (No space left on device|Disk quota exceeded|Read-only file system|Permission denied)"
)


FULL = (WRITE_FAULTS[errno.ENOSPC], WRITE_FAULTS[errno.EDQUOT])


class WriteFault(TollError):
    """The system refused a write (full disk, read-only folder): one line saying where, what
    was kept and how to go on."""


def refused_write(exc: BaseException) -> tuple[str | None, str] | None:
    """(path, reason) when `exc` is the system refusing a write, from Python or DuckDB."""
    if isinstance(exc, OSError) and exc.errno in WRITE_FAULTS:
        return exc.filename, WRITE_FAULTS[exc.errno]
    if type(exc).__module__.lstrip("_").startswith("duckdb"):
        found = _DUCKDB_FAULT.search(str(exc))
        if found is not None:
            return found.group(1), found.group(2).lower()
    return None


def write_fault(
    exc: BaseException, warehouse: Path | str, before: str | None, after: str | None = None
) -> WriteFault | None:
    """`exc` as one clear line when it is the system refusing a write in a run, else None.

    `before`, `after`: the current snapshot when the run started and now (None: none)."""
    refused = refused_write(exc)
    if refused is None:
        return None
    path, reason = refused
    where = f"writing {path}" if path else f"writing to warehouse {warehouse}"
    free = ""
    try:
        free = f" ({shutil.disk_usage(warehouse).free / 1e6:,.1f} MB free)"
    except OSError:
        pass
    if after != before:  # stopped after the switch: while writing the new snapshot's report
        outcome = f"snapshot {after} was published and is current, its report may be incomplete"
    elif before:
        outcome = f"nothing was published, snapshot {before} stays current"
    else:
        outcome = "nothing was published"
    full = reason in FULL
    return WriteFault(
        f"{reason} {where}{free}: the run stopped; {outcome}; "
        f"{'free space' if full else 'make it writable'} in {warehouse} and run again"
    )


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(exc: TollError) -> str:
    """The message with control characters from data escaped (`\\x1e`), so that one line
    stays one line on a terminal; newlines too, unless the error lists things line by line."""
    text = str(exc)
    if not exc.multiline:
        text = text.replace("\n", "\\n")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)
