# syntax=docker/dockerfile:1
# BASE_IMAGE: any Debian-like image with python3 (>= 3.11), its venv module and useradd.
# Default python:3.11-slim; tests/image builds it on a local Debian bookworm rootfs instead.
ARG BASE_IMAGE=python:3.11-slim

# Builder: build the wheel once, install it into a venv (pip and setuptools are left behind).
FROM ${BASE_IMAGE} AS builder
WORKDIR /src
RUN python3 -m venv /opt/wfsidecar \
    && /opt/wfsidecar/bin/pip install --no-cache-dir --disable-pip-version-check "pip>=25.1"
COPY pyproject.toml README.md ./
COPY wfsidecar ./wfsidecar
RUN /opt/wfsidecar/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/wfsidecar/bin/pip uninstall -y -q setuptools pip

# Runtime: non-root user, database on a volume.
FROM ${BASE_IMAGE}
RUN useradd --system --uid 10001 --home-dir /var/lib/wfsidecar wfsidecar \
    && mkdir -p /var/lib/wfsidecar /etc/wfsidecar \
    && chown wfsidecar /var/lib/wfsidecar
COPY --from=builder /opt/wfsidecar /opt/wfsidecar
COPY config/wfsidecar.yaml /etc/wfsidecar/config.yaml
# Both gRPC listeners bind 0.0.0.0, so the daemon refuses to start until a token is set
# (DAPR_API_TOKEN, WFSIDECAR_SECURITY__API_TOKEN or WFSIDECAR_SECURITY__API_TOKEN_FILE) and
# says so. The HTTP listener stays on loopback; its health route needs no token.
# WFSIDECAR_CONFIG is read by every command (run, health, config check), so the
# HEALTHCHECK asks the HTTP port the daemon was configured with.
ENV PATH=/opt/wfsidecar/bin:$PATH \
    WFSIDECAR_CONFIG=/etc/wfsidecar/config.yaml \
    WFSIDECAR_STORE__SQLITE__PATH=/var/lib/wfsidecar/wfsidecar.db \
    WFSIDECAR_LISTENERS__DAPR_GRPC__HOST=0.0.0.0 \
    WFSIDECAR_LISTENERS__DURABLETASK_GRPC__HOST=0.0.0.0
USER 10001
VOLUME ["/var/lib/wfsidecar"]
# gRPC (Dapr dialect), gRPC (Microsoft dialect), HTTP (health, management; loopback unless
# WFSIDECAR_LISTENERS__HTTP__HOST is set)
EXPOSE 50001 4001 3500
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["wfsidecar", "health"]
ENTRYPOINT ["wfsidecar"]
CMD ["run"]
