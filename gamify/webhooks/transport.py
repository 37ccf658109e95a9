"""One HTTP POST to a receiver, to the address the SSRF guard checked.

urllib3 connects to the checked IP address while TLS still verifies the certificate of the
URL's host name (SNI and `assert_hostname`) and the Host header names it: the name is resolved
once, by the guard, so it cannot resolve to another address between the check and the
connection (DNS rebinding). Redirects are not followed (a 3xx is a failed attempt), and the
whole exchange is bounded by `timeout` so a slow receiver holds a worker for seconds only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

from gamify.webhooks.guard import ReceiverRefused, checked_address

EXCERPT_BYTES = 1000
# Read the answer no further than this: the excerpt is all we keep.
READ_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    ca_certs: str | None = None,
) -> Answer:
    """POST `body`; `ca_certs` (a PEM file) replaces the system's trusted CAs (tests)."""
    started = time.monotonic()

    def answer(status: int | None, excerpt: str = "", error: str = "") -> Answer:
        elapsed = int((time.monotonic() - started) * 1000)
        return Answer(status, excerpt[:EXCERPT_BYTES], error[:500], elapsed)

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        address = checked_address(host, port)
    except ReceiverRefused as exc:
        return answer(None, error=f"refused: {exc}")
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and parts.port is None:
        host_header = f"[{host}]"
    elif ":" in host:
        host_header = f"[{host}]:{parts.port}"
    pool: urllib3.HTTPConnectionPool
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=limits,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=limits, retries=False, maxsize=1)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = b""
            deadline = started + 2 * timeout
            while len(data) < READ_LIMIT and time.monotonic() < deadline:
                chunk = response.read(8192, decode_content=True)
                if not chunk:
                    break
                data += chunk
        finally:
            response.release_conn()
            response.close()
    except urllib3.exceptions.HTTPError as exc:
        return answer(None, error=f"{type(exc).__name__}: {exc}")
    except OSError as exc:
        return answer(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        pool.close()
    return answer(response.status, data.decode("utf-8", "replace"))
