# Switchboard in a container: `docker build -t switchboard .` then
# `docker run -p 8080:8080 -e SWITCHBOARD_ADMIN_SECRET=... switchboard` (SQLite in the /data volume),
# or `docker compose up --build` for Switchboard on PostgreSQL (compose.yaml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs (see .dockerignore); the [speed] extra brings uvloop and httptools,
# [otel] the OpenTelemetry SDK, for tracing when SWITCHBOARD_OTLP_ENDPOINT is set.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rpc rpc
COPY handlers handlers
COPY metadata metadata
RUN pip install '.[speed,otel]' && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /data switchboard && mkdir /data && chown switchboard /data
USER switchboard
WORKDIR /data
VOLUME /data

ENV SWITCHBOARD_HOST=0.0.0.0 \
    SWITCHBOARD_PORT=8080 \
    SWITCHBOARD_DATABASE_URL=sqlite:////data/switchboard.db
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
# SIGTERM: stop accepting, finish the requests in flight, hand back the async runs in flight.
CMD ["switchboard", "serve"]
