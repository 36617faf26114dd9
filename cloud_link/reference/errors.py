"""The refusals the reference cloud answers with: ``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

from pydantic import ValidationError

from cloud_link.reference.schemas import ErrorBody, ErrorDetail


class CloudError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict:
        return ErrorBody(error=ErrorDetail(code=self.code, message=self.message, field=self.field)).model_dump(
            exclude_none=True
        )


class InvalidRequest(CloudError):
    pass


class Unauthorized(CloudError):
    status, code = 401, "unauthorized"


class Forbidden(CloudError):
    status, code = 403, "forbidden"


class UnknownStore(CloudError):
    status, code = 404, "unknown_store"


class PayloadTooLarge(CloudError):
    status, code = 413, "payload_too_large"


class UnsupportedEncoding(CloudError):
    status, code = 415, "unsupported_encoding"


def invalid(exc: ValidationError, *, prefix: str = "") -> InvalidRequest:
    """The first problem pydantic found, named by its field (``events.3.seq``)."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "") or None
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return InvalidRequest(f"{field or 'body'}: {first['msg']}{more}", field=field)
