"""Native providers: the body forwarded over the worker's pooled aiohttp session, its answer
read (bounded) or its stream relayed as it comes (the events of one read in one batch), in the
deployment's own wire API.

Each of a deployment's timers governs its own phase of a call: ``connect_timeout`` the
connection (aiohttp's ``sock_connect``); ``first_chunk_timeout`` the wait for the answer's
headers and first content (the caller's, ``router.dispatch.opened_stream``, whatever the
provider); ``idle_timeout`` each silence of a stream once its content has begun (here, between
reads); ``timeout`` the whole call (aiohttp's ``total``). A silence before the first content is
not idleness: a reasoning model may think longer than ``idle_timeout`` before it says anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import orjson

from router.config.model import Deployment
from router.errors import UpstreamError, UpstreamTimeout
from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.providers.upstream_errors import Scrubber, error_from_status
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from router.wire.sse import Batches, EventTooLarge, SSEBuffer


@contextmanager
def translate_errors(deployment: Deployment) -> Iterator[None]:
    """The one place where aiohttp's and asyncio's exceptions become gateway errors."""
    name = deployment.name
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise UpstreamTimeout(
            f"could not connect to deployment {name} within {deployment.connect_timeout:g}s",
            deployment=name,
            code="upstream_connect_timeout",
        ) from exc
    except TimeoutError as exc:
        raise UpstreamTimeout(
            f"deployment {name} did not finish within {deployment.timeout:g}s", deployment=name
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamError(
            f"cannot connect to deployment {name}", deployment=name, code="upstream_connect_error"
        ) from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"deployment {name} failed: {type(exc).__name__}", deployment=name) from exc
    except EventTooLarge as exc:
        raise too_large(deployment) from exc


async def next_chunk(content: aiohttp.StreamReader, deployment: Deployment, *, idle: bool) -> bytes:
    """What the stream received since the last read (``b""`` at its end); within ``idle_timeout``
    when ``idle``, i.e. once its content has begun. Only the read is timed: not what the caller
    does in between."""
    if not idle:
        return await received(content)
    timer = asyncio.timeout(deployment.idle_timeout)
    try:
        async with timer:
            return await received(content)
    except TimeoutError as exc:
        if not timer.expired():  # another deadline (the whole call's) ran out meanwhile
            raise
        raise UpstreamTimeout(
            f"deployment {deployment.name} went silent for more than {deployment.idle_timeout:g}s",
            deployment=deployment.name,
            code="upstream_idle_timeout",
        ) from exc


async def received(content: aiohttp.StreamReader) -> bytes:
    """``content.readany()`` (``b""`` at the end), except that what arrived before a broken
    connection is handed on first.

    aiohttp's reader raises a connection's failure as soon as it is stored, before the bytes its
    buffer still holds: a stream cut right after an event would lose that event if the relay came
    back to read a moment late. Those bytes come first here; the failure, which the reader keeps,
    at the next read."""
    try:
        return await content.readany()
    except aiohttp.ClientError:
        if held := _held(content):
            return held
        raise


def _held(content: aiohttp.StreamReader) -> bytes:
    """What ``content`` received and nobody read yet, past a stored failure (aiohttp offers no
    public read for it: ``read_nowait`` raises the failure first)."""
    if isinstance(content, aiohttp.StreamReader) and content._buffer:
        return content._read_nowait(-1)
    return b""


def too_large(deployment: Deployment) -> UpstreamError:
    return UpstreamError(
        f"deployment {deployment.name} sent an answer larger than its max_response_size "
        f"({deployment.max_response_size} bytes)",
        deployment=deployment.name,
        code="upstream_response_too_large",
    )


async def read_bounded(response: aiohttp.ClientResponse, deployment: Deployment) -> bytes:
    """The whole body, decoded, or a retryable error as soon as it passes ``max_response_size``.

    What was read is dropped and the connection closed, not drained: memory stays bounded
    whatever the upstream sends (a huge body, a gzip bomb), and it is never reused."""
    limit = deployment.max_response_size
    declared = response.content_length  # on the wire; a compressed body only grows when decoded
    if declared is not None and declared > limit:
        response.close()
        raise too_large(deployment)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            chunks.clear()
            response.close()
            raise too_large(deployment)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class HTTPProvider:
    """One deployment reached over HTTP in the wire API it declares (``deployment.api``); the
    body goes as the client's dialect left it (translated, if need be, by the caller), with
    only ``model`` rewritten. Subclasses say where to post and how to authenticate."""

    wire: Dialect

    def __init__(
        self, deployment: Deployment, session: aiohttp.ClientSession, scrubber: Scrubber | None = None
    ) -> None:
        """``scrubber``: what to remove from upstream errors (default: this deployment's own secrets)."""
        assert deployment.base_url is not None, "config validation guarantees a base_url"
        self.deployment = deployment
        self.wire = deployment.api
        self._format = FORMATS[self.wire]
        self._session = session
        headers = {"content-type": "application/json", **self._auth_headers()}
        headers.update((name, value.reveal()) for name, value in deployment.headers.items())
        self._headers = headers
        own = [value for name, value in headers.items() if name not in _PUBLIC_HEADERS]
        self._scrubber = scrubber if scrubber is not None else Scrubber(own)
        # No socket read timeout: it would also cut the wait for headers and first content,
        # which is first_chunk_timeout's (see the module's docstring).
        self._timeout = aiohttp.ClientTimeout(
            total=deployment.timeout, sock_connect=deployment.connect_timeout
        )

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _generate_url(self) -> str:
        raise NotImplementedError

    def _stream_url(self) -> str:
        """Where streams are posted: where answers are, unless the wire API says otherwise."""
        return self._generate_url()

    def _payload(self, body: RequestBody) -> bytes:
        return orjson.dumps({**body, "model": self.deployment.model})

    def _headers_for(self, correlation: Correlation | None) -> dict[str, str]:
        return self._headers if correlation is None else correlation.headers(self._headers)

    def _refusal(self, response: aiohttp.ClientResponse, body: bytes) -> UpstreamError:
        """What an answer other than 200 means: classified, its text scrubbed, its wait capped."""
        return error_from_status(
            response.status,
            body,
            response.headers,
            deployment=self.deployment.name,
            scrubber=self._scrubber,
            max_retry_after=self.deployment.cooldown.max_retry_after,
        )

    async def complete(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        return await self._post_json(self._generate_url(), self._payload(body), correlation)

    async def _post_json(self, url: str, payload: bytes, correlation: Correlation | None) -> bytes:
        with translate_errors(self.deployment):
            async with self._session.post(
                url, data=payload, headers=self._headers_for(correlation), timeout=self._timeout
            ) as response:
                if correlation is not None:
                    correlation.answered(response.headers)
                data = await read_bounded(response, self.deployment)
                if response.status != 200:
                    raise self._refusal(response, data)
                return data

    async def stream(self, body: RequestBody, correlation: Correlation | None = None) -> Batches:
        name = self.deployment.name
        with translate_errors(self.deployment):
            async with self._session.post(
                self._stream_url(),
                data=self._payload(body),
                headers=self._headers_for(correlation),
                timeout=self._timeout,
            ) as response:
                if correlation is not None:
                    correlation.answered(response.headers)
                if response.status != 200:
                    raise self._refusal(response, await read_bounded(response, self.deployment))
                buffer = SSEBuffer(max_event=self.deployment.max_response_size)
                is_final = self._format.is_final
                has_content = self._format.has_content
                content = response.content
                begun = False  # content has come: from now on, silences are timed
                while chunk := await next_chunk(content, self.deployment, idle=begun):
                    if not (events := buffer.feed(chunk)):
                        continue
                    # An error event is the dispatch's to judge, as for every provider.
                    for index, event in enumerate(events):
                        begun = begun or has_content(event)
                        if is_final(event):
                            yield events[: index + 1]
                            return
                    yield events
        raise UpstreamError(f"deployment {name} ended the stream before its last event", deployment=name)

    async def close(self) -> None:
        """The session is shared by every native provider of the worker; its owner closes it."""


# Header values that are no secret (the rest are scrubbed from what upstream errors pass on).
_PUBLIC_HEADERS = frozenset({"content-type", "anthropic-version"})
