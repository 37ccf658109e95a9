"""HTTPS deliveries connect to the address the guard checked while TLS still verifies the
URL's host name: the receiver's certificate is for `hooks.test`, the connection goes to
127.0.0.1 (what the name resolved to), and SNI and Host name `hooks.test`."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gamify.webhooks import transport

real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=hooks.test",
            "-addext", "subjectAltName=DNS:hooks.test",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def tls_receiver(certificate):
    key, cert = certificate
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append(
                {
                    "host": self.headers["Host"],
                    "sni": getattr(self.connection, "sni", None),
                    "body": self.rfile.read(length),
                }
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))

    def remember_sni(sock: ssl.SSLSocket, name: str | None, _: Any) -> None:
        sock.sni = name  # type: ignore[attr-defined]

    context.sni_callback = remember_sni
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], str(cert), seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooks_test_resolves_to_loopback(monkeypatch, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on loopback

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hooks.test", "other.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_https_goes_to_the_checked_address_with_the_host_name_verified(
    tls_receiver, hooks_test_resolves_to_loopback
):
    port, ca, seen = tls_receiver
    answer = transport.post(
        f"https://hooks.test:{port}/in",
        body=json.dumps({"type": "ping"}).encode(),
        headers={"Content-Type": "application/json"},
        timeout=5,
        ca_certs=ca,
    )
    assert answer.status_code == 204, answer.error
    [request] = seen
    assert request["sni"] == "hooks.test"
    assert request["host"] == f"hooks.test:{port}"


def test_a_certificate_for_another_name_is_refused(tls_receiver, hooks_test_resolves_to_loopback):
    port, ca, seen = tls_receiver
    answer = transport.post(
        f"https://other.test:{port}/in", body=b"{}", headers={}, timeout=5, ca_certs=ca
    )
    assert answer.status_code is None
    assert "certificate" in answer.error.lower() or "hostname" in answer.error.lower()
    assert seen == []


def test_an_untrusted_certificate_is_refused(tls_receiver, hooks_test_resolves_to_loopback):
    port, _, seen = tls_receiver
    answer = transport.post(f"https://hooks.test:{port}/in", body=b"{}", headers={}, timeout=5)
    assert answer.status_code is None
    assert "certificate" in answer.error.lower()
    assert seen == []
