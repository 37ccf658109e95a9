"""Liveness and readiness for load balancers and orchestrators (no auth)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core.queues import unconsumed_work
from core.redis import get_redis


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """The database and, when configured, Redis answer; 503 names what failed."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failed: {type(exc).__name__}"
    client = get_redis()
    if client is not None:
        try:
            client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"failed: {type(exc).__name__}"
    else:
        checks["redis"] = "not configured"
    failed = sorted(name for name, state in checks.items() if state.startswith("failed"))
    warnings: list[str] = []
    if checks["redis"] == "ok":
        try:
            warnings = unconsumed_work()
        except Exception as exc:
            warnings = [f"could not read the task queues: {type(exc).__name__}"]
    # Work waiting for a worker does not stop this process serving: a warning, not a 503.
    return JsonResponse(
        {
            "status": "unavailable" if failed else "ok",
            "failed": failed,
            "checks": checks,
            "warnings": warnings,
        },
        status=503 if failed else 200,
    )
