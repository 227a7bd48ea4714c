# consistency-monitor container image.
#
#   docker build -t consistency-monitor .
#   docker run -p 9465:9465 consistency-monitor
#
# Air-gapped (or when pip inside the build cannot reach or verify the package registry):
# build a wheelhouse on the host first; the build then installs from it alone.
#   python3 -m pip wheel --wheel-dir wheels . "setuptools>=68" wheel
#
# BASE_IMAGE must provide `python3` (3.11 or newer) with the venv module; the wheelhouse
# must match its Python version and libc. docs/deploy.md has the details.
ARG BASE_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- build: wheel + venv
FROM ${BASE_IMAGE} AS build
WORKDIR /src
# The context is an allowlist (.dockerignore): the package, its metadata and wheels/.
COPY . .
# The venv is copied whole into the runtime stage, so both stages share BASE_IMAGE and
# with it the interpreter's path. pip and setuptools are only needed here: removed.
RUN set -eu; \
    set --; \
    if ls wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links=/src/wheels; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip wheel --no-cache-dir --no-deps "$@" --wheel-dir /dist .; \
    /opt/venv/bin/pip install --no-cache-dir "$@" /dist/*.whl; \
    /opt/venv/bin/pip uninstall --yes pip setuptools
# The dependencies' shared objects carry debug info, some 30 MB of the image: strip it.
# binutils is fetched when the base lacks it; where it cannot be (offline, no apt) the
# build goes on unstripped. Either way binutils stays in this stage.
# DL3008 (pin apt package versions) ignored: this stage is thrown away, so binutils'
# version never reaches the image, and a pinned Debian version vanishes with updates.
# hadolint ignore=DL3008
RUN if ! command -v strip >/dev/null; then \
        { apt-get update && apt-get install -y --no-install-recommends binutils; } \
        || echo "binutils unavailable: shared objects keep their debug info" >&2; \
    fi; \
    if command -v strip >/dev/null; then \
        find /opt/venv -name "*.so" -exec strip --strip-unneeded {} +; \
    fi

# ---------------------------------------------------------------- runtime
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="consistency-monitor" \
      org.opencontainers.image.description="Proves continuously that an Auth service and a Backend service agree on their users; Prometheus metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed UID/GID, so volume ownership and Kubernetes' runAsUser/fsGroup can name it.
# --no-log-init: no sparse lastlog/faillog entry sized by the high UID in the layer.
RUN groupadd --system --gid 10001 monitor \
    && useradd --no-log-init --uid 10001 --gid 10001 \
       --home-dir /var/lib/consistency-monitor --no-create-home \
       --shell /usr/sbin/nologin monitor \
    && mkdir -p /var/lib/consistency-monitor \
    && chown 10001:10001 /var/lib/consistency-monitor

COPY --from=build /opt/venv /opt/venv
COPY monitor/default_config/monitor.yaml /etc/consistency-monitor/monitor.yaml

# The root filesystem can be read-only: bytecode is compiled at install time and the
# only writes go to the state dir (ledger, alert state), a volume.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MONITOR_CONFIG=/etc/consistency-monitor/monitor.yaml \
    MONITOR_STATE_DIR=/var/lib/consistency-monitor \
    MONITOR_HEALTHCHECK_URL=http://127.0.0.1:9465/healthz
VOLUME ["/var/lib/consistency-monitor"]
USER 10001:10001
WORKDIR /var/lib/consistency-monitor
EXPOSE 9465

# The standard library only (no curl in a slim image); no proxy for a loopback URL.
# Set MONITOR_HEALTHCHECK_URL when the monitor listens elsewhere (run --listen).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open(os.environ['MONITOR_HEALTHCHECK_URL'], timeout=4)"]

ENTRYPOINT ["consistency-monitor"]
CMD ["run"]
