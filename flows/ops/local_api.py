"""Boot Prefect's temporary local API as a run begins, and point the flow at it.

Without `PREFECT_API_URL`, the first flow call imports Prefect's server module and only then
starts the temporary server (a uvicorn process, 2.5 s more until healthy), while the run waits:
a third of the 5.4 s from `toll run` to its flow's start on the real data. Here the server
process is started first, as `toll run` begins (before its check for changed sources, before
this process imports Prefect), with the uvicorn command Prefect's `SubprocessASGIServer` uses
(prefect 3.9, pinned in constraints.txt) and its app made by `server_app`: the environment and
the active profile tell whether an API is configured; what only Prefect's own settings reveal
(a `prefect.toml`, a `.env`) is checked once it is imported, and a server started for nothing
is stopped then. A run that finds nothing changed stops it unused (`LocalApi.stop`). The flow
block (`LocalApi.serving`) then runs with `PREFECT_API_URL` set to that server, so this process
never imports Prefect's server module (1.2-1.8 s of CPU beside the server's own boot on a 2-core
machine); the server is stopped when the process exits. With an API URL set (a team server, a
worker) nothing is started. If the early start fails, the flow starts its server as it always
did. At 100x (bench.step, 3 runs each) the fetch began 3.2-4.2 s after the process started,
against 4.8-5.8 s with the server started after the check, polled by a new client each time
and with the collector running during the imports.

Flow runs keep Prefect's heartbeats (on by default, every 180 s), though nothing watches them on
a temporary server and its thread sleeps in whole seconds (each flow call waited up to 1 s for
it at its end: a one-task flow 1.07 s, 0.07 s without). Switched off, a quick flow ended with
its task-run events still queued and the server was stopped while recording them (tracebacks on
the output, task runs missing from the history); waiting for the server to record them needs
the number of task runs, which the client does not keep: that second stays.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

FALSE = {"0", "false", "no", "off"}
STARTUP_TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"

# API URLs of the temporary servers this process started
TEMPORARY_URLS: set[str] = set()


@dataclass
class LocalApi:
    """A temporary server being started for this run (`start_local_api`)."""

    process: subprocess.Popen | None = None  # the early server, if one was started
    thread: threading.Thread | None = None  # waits until it answers
    url: str | None = None  # its API, once it answered
    collector_paused: bool = False  # Python's cyclic GC, paused while the server boots
    halt: threading.Event = field(default_factory=threading.Event)  # the thread gives up

    @contextmanager
    def serving(self, meanwhile: Callable[[], object] | None = None) -> Iterator[None]:
        """Wait until the server answers; run the flow inside the block (pointed at the early
        server when it answered).

        `meanwhile` runs first, here, while a temporary server boots (this thread would only
        wait for it)."""
        if self.thread is not None:
            if meanwhile is not None and self.thread.is_alive():
                meanwhile()
            self.thread.join()
        self._resume_collector()
        if self.url:
            import prefect.settings  # noqa: F401 - its files (a prefect.toml, a .env) may name an API

            if _api_configured():
                self.close()  # configured where only Prefect looks: this server is not needed
                self.url = None
        if not self.url:
            yield
            return
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: self.url}):
            yield

    def stop(self) -> None:
        """No flow will run (nothing changed): stop the server, resume the collector."""
        self.close()
        self._resume_collector()

    def close(self) -> None:
        """Stop the server and wait for the thread waiting for it (also at exit).

        The process must not end while that thread runs: it imported Prefect meanwhile, and an
        unchanged 100x run ended during that import in 3 of 44 runs, killed by SIGSEGV or
        SIGABRT after its work was done (the thread inside OpenSSL loading certificates while
        the exit handlers freed OpenSSL's locks). The thread now imports nothing of Prefect
        and stops polling when told."""
        self.halt.set()
        if self.process is not None and self.process.poll() is None:
            if self.url is None:
                # still booting: uvicorn holds a SIGTERM until its app is made (an unchanged
                # run waited 2.6 s for it); it has served nothing, so it is killed
                self.process.kill()
                self.process.wait()
            else:
                _stop(self.process)
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=10)

    def _resume_collector(self) -> None:
        if self.collector_paused:
            self.collector_paused = False
            gc.freeze()  # what was imported lives as long as the process: never walked again
            gc.enable()


def start_local_api() -> LocalApi:
    """Start the temporary server now if this run will need one (`with api.serving():` runs
    the flow once it answers)."""
    if _api_configured() or _site_packages() is None:
        return LocalApi()
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(__file__).resolve().parents[2]),  # the folder holding `flows`
            "--factory",
            f"{__name__}:server_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        # the server reads the same environment, profile and project files as this process
        env={
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        },
    )

    # Until the flow starts, this process imports (Prefect, the flow's modules, GX and sqlglot
    # in `serving`'s `meanwhile`): Python's cyclic collector walked the growing heap again and
    # again meanwhile, 0.9 s of full collections on the main thread at 100x (gc.callbacks).
    # Paused here; `serving` freezes what was imported and resumes it.
    api = LocalApi(process=process, collector_paused=gc.isenabled())
    gc.disable()
    # a run that fails before its flow (a bad setting, an unwritable folder) leaves no server
    atexit.register(api.close)

    def wait_until_healthy() -> None:
        import httpx

        deadline = time.monotonic() + _startup_timeout()
        # one client for every poll, without certificates (plain HTTP on loopback): a client
        # per poll loaded certifi's certificates each time, 60 ms of CPU, 1.2 s of the boot
        with httpx.Client(timeout=2, verify=False, trust_env=False) as client:
            while time.monotonic() < deadline and process.poll() is None and not api.halt.is_set():
                try:
                    if client.get(f"http://127.0.0.1:{port}/api/health").is_success:
                        break
                except httpx.HTTPError:
                    pass
                api.halt.wait(0.05)
            else:
                # not up in time or exited (its port taken): the flow starts one; or not needed
                _stop(process)
                return
        api.url = f"http://127.0.0.1:{port}/api"
        TEMPORARY_URLS.add(api.url)

    thread = threading.Thread(target=wait_until_healthy, name="toll-local-api", daemon=True)
    thread.start()
    api.thread = thread
    return api


def server_app() -> object:
    """Prefect's API app, made in the temporary server's process (its uvicorn factory).

    Its imports create about a million objects that live as long as the server, and Python's
    cyclic collector walked them again and again as they were made: made with the collector
    paused, then frozen (never walked again), the server answered 0.2-0.35 s sooner of its
    2.4-3.0 s boot (3 boots each, idle machine)."""
    gc.disable()
    try:
        from prefect.server.api.server import create_app

        return create_app()
    finally:
        gc.freeze()
        gc.enable()


def _api_configured() -> bool:
    """Whether Prefect is told to use an API of its own, or no temporary one: from its settings
    when it is imported, else from the environment and the active profile (without importing
    it)."""
    if "prefect.settings" in sys.modules:
        from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

        return bool(PREFECT_API_URL.value()) or not PREFECT_SERVER_EPHEMERAL_ENABLED.value()
    found = {**_active_profile(), **os.environ}
    enabled = str(found.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "true")).lower() not in FALSE
    return bool(found.get("PREFECT_API_URL")) or not enabled


def _startup_timeout() -> float:
    """Prefect's `PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS` (default 20) from the
    environment or the active profile, read without importing Prefect (see `LocalApi.close`)."""
    found = {**_active_profile(), **os.environ}.get(STARTUP_TIMEOUT, "20")
    try:
        return float(found)
    except ValueError:
        return 20.0


def _active_profile() -> dict[str, str]:
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    path = Path(os.environ.get("PREFECT_PROFILES_PATH", home / "profiles.toml")).expanduser()
    if not path.is_file():
        package = _site_packages()
        path = package / "prefect" / "settings" / "profiles.toml" if package else None
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, tomllib.TOMLDecodeError):
        return {}  # Prefect reports a broken profile itself; the later check decides
    name = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    return {k: str(v) for k, v in profiles.get("profiles", {}).get(name, {}).items()}


def _site_packages() -> Path | None:
    """The folder holding the `prefect` package, found without importing it."""
    spec = importlib.util.find_spec("prefect")
    return Path(spec.origin).parents[1] if spec and spec.origin else None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
