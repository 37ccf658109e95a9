"""Access logs never carry a widget token: the query string's `token=` is redacted.

Widget pages are opened as `/widgets/agent?token=…` (an iframe cannot send a header), so the
token would otherwise land in every access log line: runserver's (`django.server`) and
gunicorn's. Importing this module loads neither Django nor gunicorn's app machinery.
"""

from __future__ import annotations

import logging
import re
from typing import Any

SECRET = re.compile(r"((?:^|[?&;\s])token=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    return SECRET.sub(r"\1[redacted]", text)


class RedactTokens(logging.Filter):
    """A logging filter (LOGGING['filters']) for runserver's request lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg, record.args = redact(message), ()
        return True


try:
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # gunicorn is only needed to serve in production
    _GunicornLogger = object


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with the request line, query and URL redacted (config/gunicorn.py)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # Every atom: the request line, the query, the raw URI and the environ's copies of them.
        for name, value in atoms.items():
            if isinstance(value, str) and "token=" in value.lower():
                atoms[name] = redact(value)
        return atoms
