"""CORS for browser clients (``server.cors``): preflights answered, answers readable by allowed origins.

Plain ASGI around the whole app, the hot routes included, and only when the config asks
for it: without ``server.cors`` the app never calls it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from router.config.model import CorsSettings
from router.errors import PermissionDenied
from router.http.responses import error_response

# What a browser script may read of an answer besides the CORS-safelisted headers: the
# gateway's own, the retry advice the openai and anthropic SDKs obey, and the upstream's
# x-ratelimit-* (OpenAI's names; relayed with server.relay_ratelimit_headers). Named one by
# one: a browser reads "*" as a wildcard only without credentials, and names no prefix.
EXPOSED_NAMES = (
    "x-request-id",
    "x-raceway-deployment",
    "x-raceway-attempts",
    "x-raceway-overhead-ms",
    "x-raceway-cost-usd",
    "x-raceway-cache",
    "x-raceway-affinity",
    "x-raceway-budget-tier",
    "x-raceway-upstream-request-id",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
    "x-ratelimit-limit-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
)
EXPOSED = ", ".join(EXPOSED_NAMES).encode()
METHODS = b"GET, POST, OPTIONS"


class Cors:
    __slots__ = ("_any", "_max_age", "_origins")

    def __init__(self, settings: CorsSettings) -> None:
        self._any = "*" in settings.origins
        self._origins = frozenset(origin.encode() for origin in settings.origins)
        self._max_age = str(int(settings.max_age)).encode()

    def allows(self, origin: bytes) -> bool:
        return self._any or origin.lower() in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        """Serve ``scope`` with ``app``, as CORS says for the request's ``Origin``."""
        origin = requested = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                requested = value
        if origin is None:  # not from a browser's cross-origin call
            await app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and requested is not None:
            await self._preflight(scope, receive, send, origin)
            return
        if not self.allows(origin):  # served; the browser will not let the page read it
            await app(scope, receive, send)
            return
        allowed = [*self._allow_origin(origin), (b"access-control-expose-headers", EXPOSED)]

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *allowed]}
            await send(message)

        await app(scope, receive, marked)

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: bytes) -> None:
        if not self.allows(origin):
            refusal = error_response(
                PermissionDenied("this origin may not call the gateway", code="origin_not_allowed")
            )
            await refusal(scope, receive, send)
            return
        headers = [
            *self._allow_origin(origin),
            (b"access-control-allow-methods", METHODS),
            (b"access-control-max-age", self._max_age),
            (b"vary", b"Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        asked = [value for name, value in scope["headers"] if name == b"access-control-request-headers"]
        if asked:  # any header: the origin is what is checked (a bearer key is not a cookie)
            headers.append((b"access-control-allow-headers", b", ".join(asked)))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _allow_origin(self, origin: bytes) -> list[tuple[bytes, bytes]]:
        if self._any:
            return [(b"access-control-allow-origin", b"*")]
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]


def cors_for(settings: CorsSettings | None) -> Cors | None:
    return None if settings is None else Cors(settings)
