"""Fetch one source file over HTTP(S) or from a local copy, with retries and checksum check."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from tenacity import (
    retry,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from flows import __version__
from flows.errors import ChecksumMismatch, SourceUnavailable


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status >= 500 or status in (408, 429)
    # Timeouts, refused connections, bodies cut short: worth another try.
    return isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.TooManyRedirects)


def _read_local(source: str, url: str) -> bytes:
    path = Path(unquote(urlparse(url).path))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SourceUnavailable(source, url, exc.strerror or str(exc)) from exc


def _read_http(source: str, url: str, timeout: float, attempts: int) -> bytes:
    @retry(
        retry=retry_if_exception(_is_transient),
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    def get() -> bytes:
        with httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": f"toll/{__version__}"},
        ) as client:
            response = client.get(url)
            response.raise_for_status()
            return response.content

    try:
        return get()
    except httpx.HTTPStatusError as exc:
        raise SourceUnavailable(source, url, f"HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise SourceUnavailable(source, url, f"{type(exc).__name__}: {exc}") from exc


def fetch_bytes(
    source: str,
    url: str,
    *,
    sha256: str | None = None,
    timeout: float = 60.0,
    attempts: int = 4,
    gunzip: bool = False,
) -> tuple[bytes, str]:
    """Return the file's bytes and sha256; a pinned checksum that differs is an error.

    `gunzip`: the file at `url` is a gzip of the real one (a re-compressed local copy); the
    real bytes are returned and checked."""
    if urlparse(url).scheme == "file":
        content = _read_local(source, url)
        if gunzip:
            try:
                content = gzip.decompress(content)
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceUnavailable(source, url, f"not a gzip file ({exc})") from exc
    elif urlparse(url).scheme in ("http", "https"):
        content = _read_http(source, url, timeout, attempts)
    else:
        raise SourceUnavailable(source, url, "only https://, http:// and file:// are supported")
    digest = hashlib.sha256(content).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ChecksumMismatch(source, url, sha256, digest)
    return content, digest
