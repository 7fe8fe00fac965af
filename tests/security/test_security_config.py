"""The security section's own rules: secrets masked, pairs that go together, roles that
need an admin token."""

from __future__ import annotations

import pytest

from wfsidecar.config import load, mask_secrets
from wfsidecar.errors import ConfigError


def test_every_token_is_masked_in_config_show() -> None:
    config = load(None, env={"DAPR_API_TOKEN": "a-secret", "WFSIDECAR_SECURITY__READ_TOKEN":
                             "r-secret", "WFSIDECAR_SECURITY__WORKER_TOKEN": "w-secret"},
                  overrides={})
    shown = mask_secrets(config)["security"]
    assert (shown["api_token"], shown["read_token"], shown["worker_token"]) == ("***",) * 3
    assert "secret" not in repr(mask_secrets(config))


@pytest.mark.parametrize(("overrides", "key"), [
    ({"security.tls.cert_file": "c.pem"}, "security.tls.key_file"),
    ({"security.tls.key_file": "k.pem"}, "security.tls.cert_file"),
    ({"security.tls.client_ca_file": "ca.pem"}, "security.tls.client_ca_file"),
    ({"security.read_token": "r"}, "security.read_token"),
    ({"security.worker_token_file": "/w"}, "security.worker_token"),
    ({"security.rate_limit": 0}, "security.rate_limit"),
    ({"work_items.max_streams": 0}, "work_items.max_streams"),
])
def test_invalid_combinations_name_the_key(overrides: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(None, env={}, overrides=overrides)
    assert refused.value.path == key


def test_valid_combinations() -> None:
    config = load(None, env={"WFSIDECAR_SECURITY__API_TOKEN_FILE": "/run/secrets/admin",
                             "WFSIDECAR_SECURITY__READ_TOKEN": "r",
                             "WFSIDECAR_SECURITY__TLS__CERT_FILE": "c.pem",
                             "WFSIDECAR_SECURITY__TLS__KEY_FILE": "k.pem",
                             "WFSIDECAR_SECURITY__RATE_LIMIT": "2.5"}, overrides={})
    assert config.security.read_token == "r" and config.security.rate_limit == 2.5
    assert config.security.tls.cert_file == "c.pem"
