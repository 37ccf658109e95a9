# syntax=docker/dockerfile:1
# Gamify production image. Build: docker build -t gamify .
# The same image runs the web server (default CMD), `celery -A config worker` and
# `celery -A config beat` (see docker-compose.yml). Configure it with the environment
# variables documented in .env.example (at least SECRET_KEY, DATABASE_URL, REDIS_URL).

# --- builder: a virtualenv with Gamify and its runtime dependencies (no dev extras) ----------
FROM python:3.12-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
RUN pip install --upgrade pip

WORKDIR /src
# README.md* : the readme is optional for the build (matches nothing if it does not exist).
COPY pyproject.toml README.md* ./
COPY config ./config
COPY core ./core
COPY accounts ./accounts
COPY kpis ./kpis
COPY gamify ./gamify
RUN pip install .

# --- runtime ---------------------------------------------------------------------------------
FROM python:3.12-slim AS runtime

# PYTHONPATH=/app: the source tree in /app (with manage.py) is what runs, for gunicorn,
# celery and manage.py alike. PROMETHEUS_MULTIPROC_DIR lets /metrics add up every gunicorn
# worker's counters (core/metrics.py).
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=config.settings \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

RUN groupadd --system gamify \
    && useradd --system --gid gamify --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin gamify \
    && mkdir -p /tmp/prometheus \
    && chown gamify:gamify /tmp/prometheus \
    && chmod 0700 /tmp/prometheus

COPY --from=builder /opt/venv /opt/venv

# The code stays owned by root (read-only for the app user). Copy only what runs, so a local
# .venv, db.sqlite3 or .env never ends up in the image.
WORKDIR /app
COPY manage.py ./
COPY config ./config
COPY core ./core
COPY accounts ./accounts
COPY kpis ./kpis
COPY gamify ./gamify

# Static files are collected into /app/staticfiles and served by WhiteNoise. Settings refuse
# to load without SECRET_KEY when DEBUG is false: a throw-away key is passed to this one step
# only (it is not in the image's environment and signs nothing).
ARG COLLECTSTATIC_SECRET_KEY=collectstatic-build-only-not-a-secret
RUN DEBUG=false SECRET_KEY="$COLLECTSTATIC_SECRET_KEY" \
    python manage.py collectstatic --noinput

USER gamify

EXPOSE 8000

# Liveness: /healthz answers 200 while the process serves (no curl in the slim image).
# The Host header is 127.0.0.1, which must stay in ALLOWED_HOSTS (it is by default).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
