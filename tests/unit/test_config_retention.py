"""The retention section: Dapr's stateRetentionPolicy keys, from a file and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from wfsidecar.config import RetentionConfig, env_var_name, load
from wfsidecar.errors import ConfigError


def test_dapr_keys_from_a_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("retention:\n  anyTerminal: 168h\n  completed: 30m\n")
    config = load(path, env={"WFSIDECAR_RETENTION__FAILED": "2h",
                             "WFSIDECAR_RETENTION__ANYTERMINAL": "24h"}, overrides={})
    assert config.retention == RetentionConfig(anyTerminal=86400.0, completed=1800.0,
                                               failed=7200.0)
    assert env_var_name("retention.anyTerminal") == "WFSIDECAR_RETENTION__ANYTERMINAL"
    assert config.to_dict()["retention"]["anyTerminal"] == "24h"
    assert load(None, env={}, overrides={}).retention.anyTerminal is None


def test_unknown_and_bad_values_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("retention:\n  any_terminal: 1h\n")
    with pytest.raises(ConfigError) as error:
        load(path, env={}, overrides={})
    assert error.value.path == "retention.any_terminal"
    with pytest.raises(ConfigError) as error:
        load(None, env={"WFSIDECAR_RETENTION__COMPLETED": "soon"}, overrides={})
    assert error.value.path == "retention.completed"
