"""A real HTTP receiver on loopback, in a thread: what webhook deliveries reach."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of `script` (then `default`). `hold`, when
    set, keeps each answer until the event is set (a slow receiver)."""

    port: int = 0
    script: list[int] = field(default_factory=list)
    default: int = 200
    hold: threading.Event | None = None
    hold_seconds: float = 30
    location: str | None = None
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answer(self) -> int:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


@contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                receiver.received.append(Received(self.path, self.headers, body))
            receiver.arrived.set()
            if receiver.hold is not None:
                receiver.hold.wait(receiver.hold_seconds)
            status = receiver.answer()
            self.send_response(status)
            if receiver.location and 300 <= status < 400:
                self.send_header("Location", receiver.location)
            payload = f"answer {status}".encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
