"""The container image tier (``make test-image``): build the image once per session with
podman on the base image ``tests/image/prepare.sh`` imported, and remove every container,
volume and image the tests make, pass or fail."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.image.containers import (
    BASE_IMAGE,
    HOST_CA,
    PODMAN,
    REPO,
    REPORT,
    Container,
    podman,
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in REPORT:
        terminalreporter.write_line(f"test-image: {line}")


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: `make test-image` installs it")
    if subprocess.run([*PODMAN, "image", "exists", BASE_IMAGE]).returncode != 0:
        pytest.skip(f"no base image {BASE_IMAGE}: `make test-image` builds it")
    tag = f"localhost/wfsidecar-test:{uuid.uuid4().hex[:12]}"
    mounts = ["-v", f"{HOST_CA}:{HOST_CA}:ro"] if HOST_CA.exists() else []
    # --layers=false and --force-rm leave no intermediate images or containers behind, even
    # when the build fails; --format docker keeps the HEALTHCHECK.
    build = [*PODMAN, "build", "--isolation", "chroot", "--network", "host", "--format",
             "docker", "--layers=false", "--force-rm", "--build-arg",
             f"BASE_IMAGE={BASE_IMAGE}", *mounts, "-t", tag, str(REPO)]
    try:
        started = time.monotonic()
        out = subprocess.run(build, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"podman build failed:\n{out.stdout[-4000:]}{out.stderr}"
        size = int(podman("image", "inspect", "--format", "{{.Size}}", tag))
        REPORT.append(f"image built in {time.monotonic() - started:.0f}s: {size / 1e6:.0f} MB "
                      f"({size / 2**20:.0f} MiB) on {BASE_IMAGE}")
        yield tag
    finally:
        podman("rmi", "-f", tag, check=False)


@pytest.fixture
def run_container(image: str) -> Iterator[Callable[..., Container]]:
    """Start containers of the image (``volume`` names a data volume, made on first use);
    all of them and their volumes are removed at the end."""
    made: list[Container] = []
    volumes: list[str] = []

    def run(*args: str, env: dict[str, str] | None = None, volume: str | None = None,
            ) -> Container:
        if volume is None:
            volume = f"wfsidecar-test-{uuid.uuid4().hex[:12]}"
        if volume not in volumes:
            podman("volume", "create", volume)
            volumes.append(volume)
        container = Container(image, volume, env or {}, list(args))
        made.append(container)  # before it starts, so a half-started one is removed too
        container.start()
        return container

    try:
        yield run
    finally:
        for container in made:
            container.remove()
        for volume in volumes:
            podman("volume", "rm", "-f", volume, check=False)
