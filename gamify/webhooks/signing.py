"""Webhook secrets and signatures.

A secret is `whsec_` + 43 URL-safe characters. It is never stored: the endpoint keeps a random
salt, and the secret is HMAC-SHA256(key, salt) with a key derived from SECRET_KEY. The database
alone therefore cannot sign (nor show a secret), and the API shows a secret once, when it is
made. Changing SECRET_KEY changes every endpoint's secret: rotate them afterwards.

The signature is `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>` (API.md), with the
secret's UTF-8 bytes as the key. While a rotated-out secret is still valid, the header carries
both signatures, comma-separated, the new one first: `sha256=<new>,sha256=<old>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

PREFIX = "whsec_"


def _key() -> bytes:
    # A key of its own, so a webhook secret reveals nothing about other uses of SECRET_KEY.
    return hmac.new(
        settings.SECRET_KEY.encode(), b"gamify.webhooks.secret.v1", hashlib.sha256
    ).digest()


def new_salt() -> str:
    return secrets.token_hex(32)


def secret_for(salt: str) -> str:
    """The signing secret an endpoint's salt stands for."""
    digest = hmac.new(_key(), salt.encode(), hashlib.sha256).digest()
    return PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_header(secrets_: list[str], timestamp: int, body: bytes) -> str:
    return ",".join(signature(secret, timestamp, body) for secret in secrets_)
