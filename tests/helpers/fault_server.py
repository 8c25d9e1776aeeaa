"""A local HTTP server (127.0.0.1, a free port) that answers each path with scripted faults."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Reply:
    """One answer: a status, a body, and how to misbehave while sending it."""

    status: int = 200
    body: bytes = b""
    delay: float = 0.0  # seconds before answering (a timeout when above the client's)
    declared_length: int | None = None  # a Content-Length other than len(body): a cut body
    location: str | None = None  # a redirect target


def ok(body: bytes) -> Reply:
    return Reply(200, body)


def status(code: int) -> Reply:
    return Reply(code, f"status {code}\n".encode())


def truncated(body: bytes) -> Reply:
    """Declares the whole body, sends half of it, then closes the connection."""
    return Reply(200, body[: len(body) // 2], declared_length=len(body))


def slow(body: bytes, seconds: float) -> Reply:
    return Reply(200, body, delay=seconds)


def redirect(location: str) -> Reply:
    return Reply(302, b"", location=location)


class FaultServer:
    """Paths map to a list of replies used in turn; the last one repeats. Unknown paths: files
    under `root` (if given), else 404. Every request is counted per path."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root
        self.script: dict[str, list[Reply]] = {}
        self.requests: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                reply = server._next(self.path)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.location:
                        self.send_header("Location", reply.location)
                    length = reply.declared_length
                    self.send_header(
                        "Content-Length", str(len(reply.body) if length is None else length)
                    )
                    self.end_headers()
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to answer
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def on(self, path: str, *replies: Reply) -> str:
        """Script `path`; returns its full URL."""
        self.script["/" + path.lstrip("/")] = list(replies)
        return self.url(path)

    def _next(self, path: str) -> Reply:
        with self._lock:
            self.requests[path] += 1
            replies = self.script.get(path)
            if replies:
                return replies.pop(0) if len(replies) > 1 else replies[0]
        file = (self.root / path.lstrip("/")) if self.root else None
        if (
            file is not None
            and file.resolve().is_relative_to(self.root.resolve())
            and file.is_file()
        ):
            return ok(file.read_bytes())
        return status(404)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
