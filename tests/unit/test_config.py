from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from wfsidecar.config import (
    Config,
    HttpListenerConfig,
    ListenerConfig,
    RemindersConfig,
    env_var_name,
    format_duration,
    load,
    mask_secrets,
    parse_duration,
    parse_size,
)
from wfsidecar.errors import ConfigError

SHIPPED = Path(__file__).parents[2] / "config" / "wfsidecar.yaml"


def _load(
    tmp_path: Path,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Config:
    path = None
    if text is not None:
        path = tmp_path / "wfsidecar.yaml"
        path.write_text(text)
    return load(path, env=env or {}, overrides=overrides or {})


def _error(tmp_path: Path, text: str | None = None, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, text, **kwargs)
    return info.value


def _leaf_paths(obj: object, prefix: str = "") -> Iterator[str]:
    # Independent of the loader's own schema walk, so a loader bug cannot hide here.
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _leaf_paths(value, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name


# --- defaults and the shipped file ------------------------------------------------------


def test_no_file_no_env_gives_the_documented_defaults(tmp_path: Path) -> None:
    config = _load(tmp_path)
    assert config == Config()
    assert config.listeners.dapr_grpc == ListenerConfig("127.0.0.1", 50001)
    assert config.listeners.durabletask_grpc == ListenerConfig("127.0.0.1", 4001)
    assert config.listeners.http == HttpListenerConfig("127.0.0.1", 3500, 4 * 1024 * 1024)
    assert config.listeners.ready_file is None
    assert config.store.backend == "sqlite"
    assert config.store.sqlite.path == "data/wfsidecar.db"
    assert config.store.sqlite.synchronous == "FULL"
    assert config.store.sqlite.busy_timeout == 5.0
    assert config.store.sqlite.max_batch == 256
    assert config.actors.idle_timeout == 300.0
    assert config.reminders == RemindersConfig(60.0, 1000, 256, 1.0, 300.0)
    assert config.lifecycle.drain_timeout == 15.0
    assert config.lifecycle.uvloop is True
    assert (config.logging.level, config.logging.format) == ("INFO", "text")
    assert config.security.api_token is None


def test_shipped_file_equals_the_defaults() -> None:
    assert load(SHIPPED, env={}, overrides={}) == Config()


def test_shipped_file_lists_every_key_with_its_env_variable() -> None:
    raw = yaml.safe_load(SHIPPED.read_text())
    text = SHIPPED.read_text()
    for path in _leaf_paths(Config()):
        node = raw
        for part in path.split("."):
            assert isinstance(node, dict) and part in node, f"{path} missing from {SHIPPED}"
            node = node[part]
        assert env_var_name(path) in text, f"{env_var_name(path)} not documented"


def test_empty_file_and_empty_sections_are_valid(tmp_path: Path) -> None:
    assert _load(tmp_path, "") == Config()
    assert _load(tmp_path, "# only comments\n") == Config()
    assert _load(tmp_path, "store:\n  sqlite:\nactors:\n") == Config()


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().lifecycle.uvloop = False  # type: ignore[misc]


# --- precedence ---------------------------------------------------------------------------

FILE = "listeners:\n  http:\n    port: 1001\n"
ENV = {"WFSIDECAR_LISTENERS__HTTP__PORT": "1002"}
FLAG = {"listeners.http.port": 1003}


@pytest.mark.parametrize(
    ("text", "env", "overrides", "expected"),
    [
        (None, None, None, 3500),
        (FILE, None, None, 1001),
        (FILE, ENV, None, 1002),
        (FILE, ENV, FLAG, 1003),
        (None, None, FLAG, 1003),
        (FILE, None, FLAG, 1003),
    ],
)
def test_precedence_defaults_file_env_overrides(
    tmp_path: Path,
    text: str | None,
    env: dict[str, str] | None,
    overrides: dict[str, object] | None,
    expected: int,
) -> None:
    config = _load(tmp_path, text, env=env, overrides=overrides)
    assert config.listeners.http.port == expected
    # Layers replace single keys, never whole sections.
    assert config.listeners.http.host == "127.0.0.1"


def test_layers_merge_key_by_key(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "store:\n  sqlite:\n    path: from-file.db\n    max_batch: 8\n",
        env={"WFSIDECAR_STORE__SQLITE__MAX_BATCH": "16"},
        overrides={"listeners.dapr_grpc.port": 0},
    )
    assert config.store.sqlite.path == "from-file.db"
    assert config.store.sqlite.max_batch == 16
    assert config.listeners.dapr_grpc.port == 0
    assert config.store.sqlite.synchronous == "FULL"


# --- strictness: every class of error names the dotted key --------------------------------


@pytest.mark.parametrize(
    ("text", "path", "fragments"),
    [
        ("listenres: {}\n", "listenres", ["unknown key", "did you mean 'listeners'"]),
        ("store:\n  sqlite:\n    pth: x\n", "store.sqlite.pth", ["unknown key", "path"]),
        ("listeners:\n  http:\n    port: true\n", "listeners.http.port", ["boolean True"]),
        ("listeners:\n  http:\n    port: '80'\n", "listeners.http.port", ["string '80'"]),
        ("listeners:\n  http:\n    port: 70000\n", "listeners.http.port", ["0 to 65535"]),
        ("listeners:\n  http:\n    port: -1\n", "listeners.http.port", ["integer -1"]),
        ("store: sqlite\n", "store", ["expected a mapping", "string 'sqlite'"]),
        ("listeners:\n  http: [1, 2]\n", "listeners.http", ["expected a mapping", "found a list"]),
        ("store:\n  sqlite:\n    path: 12\n", "store.sqlite.path", ["a non-empty string"]),
        ("store:\n  sqlite:\n    path: ''\n", "store.sqlite.path", ["a non-empty string"]),
        ("store:\n  sqlite:\n    synchronous: EXTRA\n", "store.sqlite.synchronous", ["FULL"]),
        ("store:\n  backend: mysql\n", "store.backend", ["sqlite, memory, postgres", "'mysql'"]),
        ("store:\n  backend: postgres\n", "store.postgres.dsn", ["required"]),
        ("store:\n  sqlite:\n    max_batch: 0\n", "store.sqlite.max_batch", [">= 1"]),
        ("actors:\n  idle_timeout: 0\n", "actors.idle_timeout", ["positive duration"]),
        ("actors:\n  idle_timeout: -5s\n", "actors.idle_timeout", ["'-5s'"]),
        ("actors:\n  idle_timeout: soon\n", "actors.idle_timeout", ["'soon'"]),
        ("lifecycle:\n  uvloop: 1\n", "lifecycle.uvloop", ["boolean", "integer 1"]),
        ("logging:\n  level: LOUD\n", "logging.level", ["DEBUG, INFO, WARNING, ERROR"]),
        ("reminders:\n  retry_initial: 10m\n", "reminders.retry_max", ["retry_initial"]),
    ],
)
def test_file_errors_name_the_dotted_key(
    tmp_path: Path, text: str, path: str, fragments: list[str]
) -> None:
    error = _error(tmp_path, text)
    assert error.path == path
    assert str(error).startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in str(error)
    if path not in ("reminders.retry_max", "store.postgres.dsn"):  # checks across keys
        assert "expected" in str(error) or "unknown key" in str(error)
        assert str(tmp_path / "wfsidecar.yaml") in str(error)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("store: [unclosed\n", "invalid YAML"),
        ("store:\n  backend: sqlite\n  backend: memory\n", "duplicate key 'backend'"),
        ("- just\n- a list\n", "expected a mapping of sections"),
        ("42\n", "expected a mapping of sections"),
    ],
)
def test_file_level_errors_name_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    error = _error(tmp_path, text)
    assert error.path == str(tmp_path / "wfsidecar.yaml")
    assert fragment in str(error)
    assert "\n" not in str(error)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load(missing, env={}, overrides={})
    assert info.value.path == str(missing)
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load(tmp_path, env={}, overrides={})
    assert info.value.path == str(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError) as info:
        load(binary, env={}, overrides={})
    assert info.value.path == str(binary)


@pytest.mark.parametrize(
    ("overrides", "path", "fragment"),
    [
        ({"listeners.http.prot": 1}, "listeners.http.prot", "did you mean 'port'"),
        ({"store.sqlite": {"path": "x"}}, "store.sqlite", "names a section"),
        ({"store.sqlite.path.deeper": "x"}, "store.sqlite.path.deeper", "is a value"),
        ({"listeners.http.port": True}, "listeners.http.port", "boolean True"),
        ({"listeners.http.port": 65536}, "listeners.http.port", "integer 65536"),
        ({"store.sqlite.path": ""}, "store.sqlite.path", "string ''"),
        ({"logging.level": "verbose"}, "logging.level", "'verbose'"),
    ],
)
def test_override_errors_name_the_dotted_key(
    tmp_path: Path, overrides: dict[str, object], path: str, fragment: str
) -> None:
    error = _error(tmp_path, overrides=overrides)
    assert error.path == path
    assert fragment in str(error)


def test_retry_max_below_retry_initial_is_rejected_even_when_constructed_directly() -> None:
    with pytest.raises(ConfigError) as info:
        RemindersConfig(retry_initial=10.0, retry_max=1.0)
    assert info.value.path == "reminders.retry_max"
    assert "found 1s" in str(info.value)


# --- environment ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_env_booleans(tmp_path: Path, raw: str, expected: bool) -> None:
    config = _load(tmp_path, env={"WFSIDECAR_LIFECYCLE__UVLOOP": raw})
    assert config.lifecycle.uvloop is expected


@pytest.mark.parametrize("raw", ["yes", "2", "", "truthy"])
def test_env_rejects_other_booleans(tmp_path: Path, raw: str) -> None:
    error = _error(tmp_path, env={"WFSIDECAR_LIFECYCLE__UVLOOP": raw})
    assert error.path == "lifecycle.uvloop"
    assert "WFSIDECAR_LIFECYCLE__UVLOOP" in str(error)


def test_env_values_are_parsed_with_the_field_type(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        env={
            "WFSIDECAR_LISTENERS__DAPR_GRPC__PORT": "0",
            "WFSIDECAR_LISTENERS__DURABLETASK_GRPC__HOST": "0.0.0.0",
            "WFSIDECAR_STORE__SQLITE__PATH": "/var/lib/wfsidecar/db",
            "WFSIDECAR_STORE__SQLITE__SYNCHRONOUS": "normal",
            "WFSIDECAR_STORE__SQLITE__BUSY_TIMEOUT": "250ms",
            "WFSIDECAR_REMINDERS__PREFETCH_LIMIT": " 10 ",
            "WFSIDECAR_REMINDERS__RETRY_MAX": "1h30m",
            "WFSIDECAR_ACTORS__IDLE_TIMEOUT": "90",
            "WFSIDECAR_LOGGING__LEVEL": "debug",
            "WFSIDECAR_LISTENERS__READY_FILE": "/run/ready.json",
        },
    )
    assert config.listeners.dapr_grpc.port == 0
    assert config.listeners.durabletask_grpc.host == "0.0.0.0"
    assert config.store.sqlite.path == "/var/lib/wfsidecar/db"
    assert config.store.sqlite.synchronous == "NORMAL"
    assert config.store.sqlite.busy_timeout == 0.25
    assert config.reminders.prefetch_limit == 10
    assert config.reminders.retry_max == 5400.0
    assert config.actors.idle_timeout == 90.0
    assert config.logging.level == "DEBUG"
    assert config.listeners.ready_file == "/run/ready.json"


@pytest.mark.parametrize(
    ("name", "value", "path"),
    [
        ("WFSIDECAR_LISTENERS__HTTP__PORT", "80a", "listeners.http.port"),
        ("WFSIDECAR_LISTENERS__HTTP__PORT", "1.5", "listeners.http.port"),
        ("WFSIDECAR_LISTENERS__HTTP__PORT", "99999", "listeners.http.port"),
        ("WFSIDECAR_STORE__SQLITE__MAX_BATCH", "0", "store.sqlite.max_batch"),
        ("WFSIDECAR_STORE__SQLITE__PATH", "", "store.sqlite.path"),
        ("WFSIDECAR_LISTENERS__HTPP__PORT", "1", "listeners.htpp"),
        ("WFSIDECAR_NOPE__KEY", "1", "nope"),
        ("WFSIDECAR_STORE__SQLITE", "x", "store.sqlite"),
    ],
)
def test_env_errors_name_the_key_and_the_variable(
    tmp_path: Path, name: str, value: str, path: str
) -> None:
    error = _error(tmp_path, env={name: value})
    assert error.path == path
    assert f"environment variable {name}" in str(error)


def test_env_names_without_double_underscore_are_not_settings(tmp_path: Path) -> None:
    env = {"WFSIDECAR_CONFIG": "/etc/x.yaml", "WFSIDECAR_TEST_PG": "1", "HOME": "/root"}
    assert _load(tmp_path, env=env) == Config()


def test_empty_env_value_unsets_an_optional_key(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "listeners:\n  ready_file: /tmp/r.json\n",
        env={"WFSIDECAR_LISTENERS__READY_FILE": ""},
    )
    assert config.listeners.ready_file is None


def test_env_var_name() -> None:
    assert env_var_name("store.sqlite.path") == "WFSIDECAR_STORE__SQLITE__PATH"
    assert env_var_name("listeners.http.port") == "WFSIDECAR_LISTENERS__HTTP__PORT"


def test_dapr_api_token_compatibility(tmp_path: Path) -> None:
    file = "security:\n  api_token: from-file\n"
    assert _load(tmp_path, file).security.api_token == "from-file"
    dapr = {"DAPR_API_TOKEN": "from-dapr"}
    assert _load(tmp_path, file, env=dapr).security.api_token == "from-dapr"
    both = {**dapr, "WFSIDECAR_SECURITY__API_TOKEN": "from-wfsidecar"}
    assert _load(tmp_path, file, env=both).security.api_token == "from-wfsidecar"
    assert _load(tmp_path, env={"DAPR_API_TOKEN": ""}).security.api_token is None


# --- durations and sizes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s500ms", 90.5),
        ("1.5s", 1.5),
        ("30", 30.0),
        ("0.5", 0.5),
        (" 2m ", 120.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert math.isclose(parse_duration(text), seconds)


@pytest.mark.parametrize("text", ["", "s", "5 m", "5x", "m5", "1h 30m", "5sec", "1d", "1h-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_accept_numbers_in_files(tmp_path: Path) -> None:
    config = _load(tmp_path, "lifecycle:\n  drain_timeout: 2.5\nactors:\n  idle_timeout: 45\n")
    assert config.lifecycle.drain_timeout == 2.5
    assert config.actors.idle_timeout == 45.0
    assert isinstance(config.actors.idle_timeout, float)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300.0, "5m"), (5.0, "5s"), (0.25, "250ms"), (5400.0, "1h30m"), (90.5, "1m30s500ms")],
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_format_duration_keeps_sub_millisecond_values_exact() -> None:
    assert format_duration(0.0001) == 0.0001


@pytest.mark.parametrize(
    ("text", "size"),
    [("4MiB", 4 << 20), ("512KiB", 512 << 10), ("1GiB", 1 << 30), ("64KB", 64_000), ("100", 100)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "4 mebibytes", "1.5MiB", "-1", "MiB"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


# --- dumping and masking ------------------------------------------------------------------


def test_mask_secrets_hides_a_set_token_only(tmp_path: Path) -> None:
    assert mask_secrets(Config())["security"]["api_token"] is None
    config = _load(tmp_path, env={"DAPR_API_TOKEN": "s3cret"})
    masked = mask_secrets(config)
    assert masked["security"]["api_token"] == "***"
    assert "s3cret" not in yaml.safe_dump(masked)
    assert config.to_dict()["security"]["api_token"] == "s3cret"
    assert config.to_dict(mask_secrets=True) == masked


def test_secret_values_are_not_echoed_in_errors(tmp_path: Path) -> None:
    error = _error(tmp_path, "security:\n  api_token: 98765\n")
    assert error.path == "security.api_token"
    assert "98765" not in str(error)


def test_to_dict_is_plain_yaml_that_loads_back_equal(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        env={
            "WFSIDECAR_STORE__SQLITE__BUSY_TIMEOUT": "1h30m",
            "WFSIDECAR_REMINDERS__RETRY_INITIAL": "250ms",
            "WFSIDECAR_LISTENERS__READY_FILE": "/tmp/ready.json",
            "WFSIDECAR_SECURITY__API_TOKEN": "t",
        },
    )
    dumped = config.to_dict()
    assert dumped["store"]["sqlite"]["busy_timeout"] == "1h30m"
    assert dumped["actors"]["idle_timeout"] == "5m"
    assert _load(tmp_path, yaml.safe_dump(dumped)) == config


def test_extra_grpc_listeners_from_file_env_and_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "extra.yaml"
    cfg.write_text('listeners:\n  extra_grpc: ["ms@0.0.0.0:4002", "dapr@[::1]:50002"]\n')
    loaded = load(cfg, env={}, overrides={})
    assert loaded.listeners.extra_grpc == ("ms@0.0.0.0:4002", "dapr@[::1]:50002")
    from wfsidecar.config import parse_listener

    assert parse_listener("dapr@[::1]:50002") == ("dapr", "::1", 50002)
    env = {"WFSIDECAR_LISTENERS__EXTRA_GRPC": "ms@127.0.0.1:0, dapr@127.0.0.1:0"}
    assert load(None, env=env, overrides={}).listeners.extra_grpc == (
        "ms@127.0.0.1:0", "dapr@127.0.0.1:0")
    for bad in ('["grpc@127.0.0.1:1"]', '["ms@127.0.0.1:99999"]', '["ms127.0.0.1:1"]', "7"):
        cfg.write_text(f"listeners:\n  extra_grpc: {bad}\n")
        with pytest.raises(ConfigError) as raised:
            load(cfg, env={}, overrides={})
        assert raised.value.path == "listeners.extra_grpc"


def test_trace_ui_template_needs_a_url_with_the_trace_id(tmp_path: Path) -> None:
    error = _error(tmp_path, "tracing:\n  ui_url_template: zipkin/{traceId}\n")
    assert "tracing.ui_url_template" in str(error) and "{traceId}" in str(error)
    error = _error(tmp_path, env={"WFSIDECAR_TRACING__UI_URL_TEMPLATE": "http://zipkin:9411/"})
    assert "{traceId}" in str(error)
    cfg = _load(tmp_path, "tracing:\n  ui_url_template: http://z:9411/zipkin/traces/{traceId}\n")
    assert cfg.tracing.ui_url_template == "http://z:9411/zipkin/traces/{traceId}"
