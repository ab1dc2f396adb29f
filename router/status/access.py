"""Who may see the status page and the request log.

With ``server.admin_key`` set: whoever sends it (``Authorization: Bearer <admin_key>``; the
page's login form keeps it in the page's memory and sends it so, never as a cookie); a wrong
or missing key is 401, and counts as a failed authentication like any other. Without one:
anyone on a loopback bind (the configured bind and the connection's own address both
loopback), and nobody otherwise (404, as if there were no such page: a public gateway
does not show its traffic to the world by default).
"""

from __future__ import annotations

import enum
import hmac
import ipaddress

from starlette.requests import Request

from router.config.units import split_bind
from router.errors import AuthenticationFailed, RouteNotFound
from router.runtime.keyring import AuthFailure
from router.runtime.worker import Worker


class Access(enum.Enum):
    ALLOWED = "allowed"
    NEEDS_KEY = "needs_key"  # 401: the page asks for the admin key


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(request: Request, worker: Worker) -> None:
    """Returns when ``request`` may see the status; raises the error to answer otherwise."""
    server = worker.gateway.config.server
    keyring = worker.gateway.keyring
    if server.admin_key is None:
        local = request.scope.get("server")
        if is_loopback(split_bind(server.bind)[0]) and (local is None or is_loopback(str(local[0]))):
            return
        raise RouteNotFound(f"no route {request.method} {request.url.path}")
    keyring.screen(request.scope)
    presented = request.headers.get("authorization", "")
    expected = f"Bearer {server.admin_key.reveal()}"
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        keyring.record_failure(AuthFailure.ADMIN, request.scope)
        raise AuthenticationFailed(
            "the status page needs the admin key" if not presented else "invalid admin key",
            code="admin_key_required" if not presented else "invalid_admin_key",
        )
