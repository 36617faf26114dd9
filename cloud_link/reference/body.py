"""Reading a request body with a cap, gunzipping it as it arrives so a gzip bomb stops at the cap."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from cloud_link.reference.errors import InvalidRequest, PayloadTooLarge, UnsupportedEncoding

#: zlib's window setting for a gzip stream (header and trailer included).
GZIP_WBITS = 16 + zlib.MAX_WBITS


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, decompressed when it says ``Content-Encoding: gzip``, refused past ``limit`` bytes either way."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; send gzip or nothing")
    too_large = PayloadTooLarge(f"the body is larger than {limit} bytes (decompressed)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    inflater = zlib.decompressobj(GZIP_WBITS) if encoding == "gzip" else None
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large
        if inflater is not None:
            try:
                # At most one byte past the cap: enough to know it is too large, never the whole bomb.
                chunk = inflater.decompress(chunk, limit + 1 - len(body))
            except zlib.error as exc:
                raise InvalidRequest(f"the body is not valid gzip: {exc}") from None
        body += chunk
        if len(body) > limit:
            raise too_large
    if inflater is not None and not inflater.eof:
        raise InvalidRequest("the gzip body ends before its end")
    return bytes(body)
