# syntax=docker/dockerfile:1
# Builder: build the wheel once, install it into a venv.
FROM python:3.11-slim AS builder
WORKDIR /src
RUN python -m venv /opt/wfsidecar && /opt/wfsidecar/bin/pip install --no-cache-dir --upgrade "pip>=25.1"
COPY pyproject.toml README.md ./
COPY wfsidecar ./wfsidecar
RUN /opt/wfsidecar/bin/pip install --no-cache-dir .

# Runtime: slim image, non-root user, database on a volume.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/wfsidecar wfsidecar \
    && mkdir -p /var/lib/wfsidecar /etc/wfsidecar \
    && chown wfsidecar /var/lib/wfsidecar
COPY --from=builder /opt/wfsidecar /opt/wfsidecar
COPY config/wfsidecar.yaml /etc/wfsidecar/config.yaml
ENV PATH=/opt/wfsidecar/bin:$PATH \
    WFSIDECAR_STORE__SQLITE__PATH=/var/lib/wfsidecar/wfsidecar.db \
    WFSIDECAR_LISTENERS__DAPR_GRPC__HOST=0.0.0.0 \
    WFSIDECAR_LISTENERS__DURABLETASK_GRPC__HOST=0.0.0.0
USER wfsidecar
VOLUME ["/var/lib/wfsidecar"]
# gRPC (Dapr dialect), gRPC (Microsoft dialect), HTTP (health; loopback unless configured)
EXPOSE 50001 4001 3500
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD ["wfsidecar", "health"]
ENTRYPOINT ["wfsidecar"]
CMD ["run", "--config", "/etc/wfsidecar/config.yaml"]
