"""Logs: one JSON object per line for machines, readable lines for a person at a terminal;
each carries the current request id."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from typing import Literal, TextIO

LogFormat = Literal["auto", "json", "text"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "idgraph_request_id", default=None
)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request being served (set by RequestIdMiddleware)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Anything passed through `extra=` is kept as a field of its own.
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


# Fields the access line's message already says (api/http/middleware.py, record_request).
_SAID_IN_MESSAGE = {"method", "path", "status", "request_id"}
_LEVEL_COLOURS = {"WARNING": "33", "ERROR": "31", "CRITICAL": "1;31", "DEBUG": "2"}


class ReadableFormatter(logging.Formatter):
    """`14:03:27.512  INFO     idgraph.api.access  POST /graphql 200  3.1 ms  [request id]`."""

    def __init__(self, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        level = self._paint(f"{record.levelname:<7}", _LEVEL_COLOURS.get(record.levelname))
        parts = [f"{clock}.{int(record.msecs):03d}", level, self._paint(record.name, "36"),
                 record.getMessage(), *self._extras(record)]
        if request_id := getattr(record, "request_id", None):
            parts.append(self._paint(f"[{request_id}]", "2"))
        line = "  ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

    def _extras(self, record: logging.LogRecord) -> list[str]:
        extras = {k: v for k, v in record.__dict__.items()
                  if k not in _STANDARD and k not in _SAID_IN_MESSAGE}
        duration = extras.pop("duration_ms", None)
        return ([f"{duration} ms"] if duration is not None else []) + [
            f"{key}={value}" for key, value in extras.items()]

    def _paint(self, text: str, code: str | None) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour and code else text


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(log_format: LogFormat = "auto", level: int = logging.INFO,
                      stream: TextIO | None = None) -> None:
    """Route idgraph's (and uvicorn's) log records through one handler on stderr: JSON lines,
    or readable text when `log_format` is "text", or "auto" and stderr is a terminal."""
    stream = stream or sys.stderr
    terminal = is_terminal(stream)
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if log_format == "json" or (log_format == "auto" and not terminal):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(ReadableFormatter(colour=terminal and "NO_COLOR" not in os.environ))
    for name in ("idgraph", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(level)
