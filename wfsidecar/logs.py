"""Logging set-up: one dictConfig, text or JSON lines on stderr."""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

from wfsidecar.telemetry import log_context

_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``extra={...}`` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Inside a turn or an RPC: the instance and trace it is about (log_context.py).
        instance_id, trace_id = log_context.current()
        if instance_id is not None:
            body["instance_id"] = instance_id
        if trace_id is not None:
            body["trace_id"] = trace_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                body[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure(level: str, fmt: str) -> None:
    """Route wfsidecar's loggers (and grpc/aiohttp warnings) to stderr."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"default": formatter},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "default",
                    "stream": "ext://sys.stderr",
                }
            },
            "loggers": {
                "wfsidecar": {"level": level, "handlers": ["stderr"], "propagate": False},
                "aiohttp": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
                "grpc": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
            },
        }
    )
