"""Fetch one source file over HTTP(S) or from a local copy, with retries and checksum check.

Retried (with exponential backoff): HTTP 5xx, 408 and 429, timeouts, refused or dropped
connections and bodies cut short of their declared length. Not retried, because asking again
gives the same answer: other 4xx statuses, redirect loops and checksum mismatches.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from flows import __version__
from flows.errors import ChecksumMismatch, SourceUnavailable

MAX_REDIRECTS = 5


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status >= 500 or status in (408, 429)
    # Timeouts, refused connections, bodies cut short: worth another try.
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol)


def _reason(exc: httpx.HTTPError, timeout: float) -> str:
    """What went wrong, in the operator's words rather than the HTTP client's."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
    if isinstance(exc, httpx.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects (a redirect loop?)"
    if isinstance(exc, httpx.TimeoutException):
        return f"no response within {timeout:g} s ({type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the connection broke off or the body was cut short ({exc})"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect ({exc})"
    return f"{type(exc).__name__}: {exc}"


def local_path(url: str) -> Path | None:
    """The file a file:// URL names; None for other schemes."""
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _read_local(source: str, url: str) -> bytes:
    path = Path(unquote(urlparse(url).path))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceUnavailable(source, url, exc.strerror or str(exc)) from exc


def _read_http(source: str, url: str, timeout: float, attempts: int, backoff: float) -> bytes:
    tries = {"count": 0}

    def count(_: RetryCallState) -> None:
        tries["count"] += 1

    @retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=backoff, max=8),
        before=count,
        reraise=True,
    )
    def get() -> bytes:
        with httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": f"toll/{__version__}"},
        ) as client:
            response = client.get(url)
            response.raise_for_status()
            return response.content

    try:
        return get()
    except httpx.HTTPError as exc:
        reason = _reason(exc, timeout)
        if tries["count"] > 1:
            reason += f", after {tries['count']} attempts"
        raise SourceUnavailable(source, url, reason) from exc


def fetch_bytes(
    source: str,
    url: str,
    *,
    sha256: str | None = None,
    timeout: float = 60.0,
    attempts: int = 4,
    backoff: float = 0.5,
    gunzip: bool = False,
) -> tuple[bytes, str]:
    """Return the file's bytes and sha256; a pinned checksum that differs is an error.

    `gunzip`: the file may be a gzip of the real one (a re-compressed local copy, wherever it is
    served from); gzip content is decompressed and the real bytes returned and checked."""
    scheme = urlparse(url).scheme
    if scheme == "file":
        content = _read_local(source, url)
    elif scheme in ("http", "https"):
        content = _read_http(source, url, timeout, attempts, backoff)
    else:
        raise SourceUnavailable(source, url, "only https://, http:// and file:// are supported")
    if gunzip and content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError, zlib.error) as exc:
            raise SourceUnavailable(source, url, f"broken gzip data ({exc})") from exc
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ChecksumMismatch(source, url, sha256, digest)
    return content, digest
