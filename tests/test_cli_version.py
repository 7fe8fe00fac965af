from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from wfsidecar import __version__
from wfsidecar.cli import main


def test_version_command_prints_package_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_module_entry_point_runs_as_subprocess() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wfsidecar", "version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == __version__
