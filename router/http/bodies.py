"""Reading a request's body: bounded in size and in time, kept or dropped as it comes."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from router.errors import ClientGone, GatewayError, InvalidRequest, PayloadTooLarge, RequestTimeout
from router.runtime.deadlines import Deadlines


async def read_body(request: Request, limit: int, time_limit: float, deadlines: Deadlines) -> bytes:
    """The whole body, refused with 413 as soon as it exceeds ``limit`` bytes, and with 408 if it
    has not all arrived ``time_limit`` seconds after the headers (a client that stalls or
    trickles would otherwise hold its connection and this task for as long as it likes)."""
    _check_framing(request, limit)
    try:
        return await deadlines.run(_chunks(request, limit, keep=True), time_limit)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {time_limit:g}s") from None
    except ClientDisconnect:
        raise ClientGone("the client closed the connection before sending its whole body") from None


async def drop_body(request: Request, limit: int, time_limit: float, deadlines: Deadlines) -> bool:
    """Read a refused request's body within the same limits, keeping none of it: whether all of
    it came (only then can the connection carry the client's next request)."""
    try:
        _check_framing(request, limit)
        await deadlines.run(_chunks(request, limit, keep=False), time_limit)
    except (GatewayError, TimeoutError, ClientDisconnect):
        return False
    return True


def _check_framing(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if "transfer-encoding" in request.headers:
        # HTTP lets Transfer-Encoding win, but proxies that believe Content-Length instead
        # are how requests get smuggled (RFC 9112, 6.3): refuse (the connection is closed).
        raise InvalidRequest(
            "a request may carry Content-Length or Transfer-Encoding, not both",
            param="transfer-encoding",
            code="conflicting_framing",
        )
    try:
        if int(declared) > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    except ValueError as exc:
        raise InvalidRequest("invalid Content-Length header") from exc


async def _chunks(request: Request, limit: int, *, keep: bool) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        if keep:
            chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
