# cdrwatch worker image. Build: `docker build -t cdrwatch:0.1.0 .`
# Run:   docker run --rm -e CDRWATCH_BROKER=kafka://kafka:9092 \
#          -v "$PWD/policy.toml:/etc/cdrwatch/policy.toml:ro" -p 9108:9108 cdrwatch:0.1.0
# Linted by tests/unit/test_deploy_image.py (hadolint, and the structure below).

# --- build: wheels only, so nothing here needs a compiler; the final stage gets the venv.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
# The project becomes a wheel, then every dependency must come as a binary wheel: a package
# that would need gcc fails the build here instead of pulling build tools into the image.
RUN python -m venv /opt/cdrwatch \
    && /opt/cdrwatch/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/cdrwatch/bin/pip install --only-binary=:all: /wheels/cdrwatch-*.whl

# --- runtime: the venv, the default policy, a non-root user; no pip cache, no sources.
FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="cdrwatch" \
      org.opencontainers.image.description="Streaming detector of telephone fraud in CDRs" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 cdrwatch \
    && useradd --system --uid 10001 --gid cdrwatch --home-dir /var/lib/cdrwatch \
       --no-create-home --shell /usr/sbin/nologin cdrwatch \
    && mkdir -p /var/lib/cdrwatch /etc/cdrwatch \
    && chown cdrwatch:cdrwatch /var/lib/cdrwatch
COPY --from=build /opt/cdrwatch /opt/cdrwatch
# The bundled default; mount the operator's policy over it (a file or the whole directory).
COPY streams/policies/default.toml /etc/cdrwatch/policy.toml
# Every name here is a field of streams/settings.py (tests/unit/test_deploy_env.py).
# The metrics server must listen beyond loopback to be scraped from outside the container.
ENV PATH=/opt/cdrwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/cdrwatch \
    CDRWATCH_POLICY=/etc/cdrwatch/policy.toml \
    CDRWATCH_DATA_DIR=/var/lib/cdrwatch \
    CDRWATCH_METRICS_HOST=0.0.0.0 \
    CDRWATCH_METRICS_PORT=9108 \
    CDRWATCH_LOG_JSON=true
VOLUME ["/etc/cdrwatch", "/var/lib/cdrwatch"]
USER 10001:10001
WORKDIR /var/lib/cdrwatch
EXPOSE 9108
# The only HTTP endpoint the worker serves today is Prometheus' /metrics (streams/metrics.py,
# started as an app task): healthy = the process is up and answers, not "partitions assigned".
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('CDRWATCH_METRICS_PORT', '9108'), timeout=4)"]
ENTRYPOINT ["cdrwatch", "worker"]
