"""Error responses sent before GraphQL runs, shaped like GraphQL responses."""

from __future__ import annotations

from starlette.responses import JSONResponse


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None,
                   media_type: str = "application/json") -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers, media_type=media_type)
