"""Google's Gemini API, spoken natively: ``generateContent`` without litellm.

Posts to ``{base_url}/v1beta/models/{model}:generateContent`` (``:streamGenerateContent?alt=sse``
for streams, ``:countTokens`` for token counts; a base URL that already ends in ``/v1`` or
``/v1beta`` keeps its own version) and authenticates with ``x-goog-api-key``. The body goes as
the client's dialect left it, without the ``model`` and ``stream`` that Raceway folds into
it: the model is the deployment's, in the path. A 429's wait, which Google gives as a
``google.rpc.RetryInfo`` in the body rather than a ``Retry-After`` header, counts as one.
Comment lines in a stream are dropped: Gemini's clients refuse them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

import aiohttp
import orjson

from router.config.model import Deployment
from router.dialects.translate.gemini import STREAM_FIELDS
from router.errors import UpstreamError, UpstreamRejected
from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.providers.http import HTTPProvider
from router.providers.upstream_errors import Scrubber, error_from_status
from router.wire.sse import Batches

_VERSIONED = re.compile(r"/v1(beta|alpha)?/?$")
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


class GeminiProvider(HTTPProvider):
    def __init__(
        self, deployment: Deployment, session: aiohttp.ClientSession, scrubber: Scrubber | None = None
    ) -> None:
        super().__init__(deployment, session, scrubber)
        base = str(deployment.base_url).rstrip("/")
        root = base if _VERSIONED.search(base) else f"{base}/v1beta"
        self._model_url = f"{root}/models/{deployment.model.removeprefix('models/')}"

    def _auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        return {} if key is None else {"x-goog-api-key": key.reveal()}

    def _generate_url(self) -> str:
        return f"{self._model_url}:generateContent"

    def _stream_url(self) -> str:
        return f"{self._model_url}:streamGenerateContent?alt=sse"

    def _payload(self, body: RequestBody) -> bytes:
        return orjson.dumps({name: value for name, value in body.items() if name not in STREAM_FIELDS})

    def _refusal(self, response: aiohttp.ClientResponse, body: bytes) -> UpstreamError:
        headers: Mapping[str, str] = response.headers
        if response.status == 429 and "retry-after" not in headers and (delay := _retry_delay(body)):
            headers = {**headers, "retry-after": delay}
        return error_from_status(
            response.status,
            body,
            headers,
            deployment=self.deployment.name,
            scrubber=self._scrubber,
            max_retry_after=self.deployment.cooldown.max_retry_after,
        )

    async def stream(self, body: RequestBody, correlation: Correlation | None = None) -> Batches:
        async with contextlib.aclosing(super().stream(body, correlation)) as batches:
            async for batch in batches:
                if kept := [event for event in batch if event.startswith(b"data:") or b"\ndata:" in event]:
                    yield kept

    async def count_tokens(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        """``:countTokens``, as Google counts them (a whole request inside names the model too)."""
        payload = {name: value for name, value in body.items() if name not in STREAM_FIELDS}
        inner = payload.get("generateContentRequest")
        if isinstance(inner, dict):
            model = f"models/{self.deployment.model.removeprefix('models/')}"
            payload["generateContentRequest"] = {**inner, "model": model}
        return await self._post_json(f"{self._model_url}:countTokens", orjson.dumps(payload), correlation)

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        raise UpstreamRejected(
            f"deployment {self.deployment.name} speaks Gemini's generateContent, which takes no "
            "OpenAI embeddings requests",
            status=400,
            deployment=self.deployment.name,
            code="embeddings_not_supported",
        )


def _retry_delay(body: bytes) -> str | None:
    """The seconds of a ``RetryInfo`` ``retryDelay`` (``"12s"``, ``"1.5s"``) in a Google error."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    error = document.get("error") if isinstance(document, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and detail.get("@type") == _RETRY_INFO:
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
                return str(max(1, round(float(delay[:-1]))))
    return None
