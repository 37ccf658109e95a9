"""Widget tokens never reach an access log: runserver's lines and gunicorn's are redacted."""

from __future__ import annotations

import io
import logging
import logging.config
from datetime import timedelta
from types import SimpleNamespace

from django.conf import settings
from gunicorn.config import Config

from core.logs import GunicornLogger, redact

TOKEN = "wgt_eyJ0Ijo1LCJhIjo3LCJlIjo5OTk5OTk5OTk5fQ:1vR:sig"


def test_runserver_request_lines_are_redacted():
    stream = io.StringIO()
    config = {
        **settings.LOGGING,
        "handlers": {
            "console": {**settings.LOGGING["handlers"]["console"], "stream": stream},
        },
    }
    logging.config.dictConfig(config)
    try:
        logging.getLogger("django.server").warning(
            '"%s" %s %s', f"GET /widgets/agent?lang=fa&token={TOKEN}&x=1 HTTP/1.1", 401, 812
        )
    finally:
        logging.config.dictConfig(settings.LOGGING)
    line = stream.getvalue()
    assert "/widgets/agent?lang=fa&token=[redacted]&x=1" in line
    assert TOKEN not in line
    assert "sig" not in line


def test_gunicorn_access_lines_are_redacted():
    logger = GunicornLogger(Config())
    request = SimpleNamespace(
        method="GET",
        path="/widgets/store",
        query=f"token={TOKEN}",
        uri=f"/widgets/store?token={TOKEN}",
        version=(1, 1),
        headers=[],
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/widgets/store?token={TOKEN}",
        "PATH_INFO": "/widgets/store",
        "QUERY_STRING": f"token={TOKEN}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[], response_length=10)
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=3))
    line = logger.cfg.access_log_format % atoms
    assert "token=[redacted]" in line
    assert TOKEN not in line
    assert TOKEN not in str(atoms)


def test_redact_leaves_other_parameters():
    assert (
        redact("/x?metric=aht&token=abc&period=day") == "/x?metric=aht&token=[redacted]&period=day"
    )
    assert redact("/x?mytoken=abc") == "/x?mytoken=abc"
