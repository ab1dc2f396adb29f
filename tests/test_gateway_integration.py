"""The real server (`raceway serve`, 2 workers) on 127.0.0.1, called by the official openai client.

Upstreams are real aiohttp servers started by the tests; every byte crosses a socket.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway, serving
from tests.sdks import Sdks
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

KEY = "rw-integration-key-1"
LIMITED_KEY = "rw-limited-key-2"
UPSTREAM_SECRET = "sk-upstream-secret-abcdef"


def gateway_config(upstream: FakeUpstream) -> str:
    return f"""
    server: {{max_body_size: 64KiB, graceful_timeout: 5s}}
    deployments:
      - {{name: primary, provider: openai, base_url: "{upstream.base_url}", model: primary,
         api_key: "${{UPSTREAM_KEY}}", timeout: 2s, cooldown: {{failures: 1000}}}}
      - {{name: secondary, provider: openai, base_url: "{upstream.base_url}", model: secondary,
         api_key: "${{UPSTREAM_KEY}}", timeout: 2s, cooldown: {{failures: 1000}}}}
      - {{name: strict, provider: openai, base_url: "{upstream.base_url}", model: strict,
         api_key: "${{UPSTREAM_KEY}}", timeout: 2s, cooldown: {{failures: 1000}}}}
      - {{name: nowhere, provider: openai, base_url: "http://127.0.0.1:9/v1", model: x, timeout: 1s}}
      - {{name: builtin, provider: fake, fake: {{reply: "from the fake"}}}}
    models:
      - {{name: chat, deployments: [primary, secondary]}}
      - {{name: strict-chat, deployments: [strict, secondary]}}
      - {{name: broken, deployments: [nowhere]}}
      - {{name: offline, deployments: [builtin]}}
      - {{name: embed, deployments: [primary]}}
    keys:
      - {{name: ci, key: "{KEY}"}}
      - {{name: limited, key: "{LIMITED_KEY}", models: [offline]}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    """One 2-worker gateway for the module; each test scripts the upstream afresh."""
    return gateways.serve(gateway_config(module_upstream), env={"UPSTREAM_KEY": UPSTREAM_SECRET})


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway, key=KEY)


def post(
    gateway: RunningGateway, body: bytes | str, *, key: str | None = KEY, **headers: str
) -> httpx.Response:
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    headers.setdefault("content-type", "application/json")
    return httpx.post(f"{gateway.api_url}/chat/completions", content=body, headers=headers, timeout=10)


def assert_openai_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    assert UPSTREAM_SECRET not in response.text and KEY not in response.text
    return error


# -- the happy paths, with the official client -------------------------------------------


def test_non_streaming_chat_with_the_openai_client(
    client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hi"}], temperature=0.1
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from upstream"
    assert raw.headers["x-raceway-deployment"] == "primary"
    assert raw.headers["x-raceway-attempts"] == "1"
    assert float(raw.headers["x-raceway-overhead-ms"]) >= 0
    (seen,) = threaded_upstream.requests
    assert seen.body["model"] == "primary" and seen.body["temperature"] == 0.1
    assert seen.headers["Authorization"] == f"Bearer {UPSTREAM_SECRET}"


def test_the_upstreams_rate_limit_headers_stay_private_by_default(
    client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("primary", Behaviour(headers={"x-ratelimit-remaining-tokens": "7"}))
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert "x-ratelimit-remaining-tokens" not in raw.headers
    assert raw.headers["x-raceway-upstream-request-id"] == threaded_upstream.requests[0].request_id


def test_streaming_chat_with_usage(client: openai.OpenAI, threaded_upstream: FakeUpstream) -> None:
    threaded_upstream.script("primary", Behaviour(reply="streamed answer here", chunk_delay=0.01))
    stream = client.chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streamed answer here"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 9


def test_fallback_to_the_second_deployment(client: openai.OpenAI, threaded_upstream: FakeUpstream) -> None:
    threaded_upstream.script("primary", Behaviour(status=503))
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "x"}]
    )
    assert raw.headers["x-raceway-deployment"] == "secondary"
    assert raw.headers["x-raceway-attempts"] == "2"


def test_streaming_fallback_when_the_first_stream_dies_before_content(
    client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("primary", Behaviour(cut_after=0))
    threaded_upstream.script("secondary", Behaviour(reply="second says hi"))
    chunks = list(
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "second says hi"


def test_stream_cut_midway_ends_with_an_error_event(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("primary", Behaviour(reply="one two three four", cut_after=2))
    response = post(
        gateway, b'{"model": "chat", "stream": true, "messages": [{"role": "user", "content": "x"}]}'
    )
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert '"one"' in events[1] and "two" in events[2]
    assert events[-1].startswith('data: {"error":')
    assert "[DONE]" not in response.text
    assert threaded_upstream.calls("secondary") == 0


def test_built_in_fake_and_models_listing(client: openai.OpenAI) -> None:
    answer = client.chat.completions.create(model="offline", messages=[{"role": "user", "content": "x"}])
    assert answer.choices[0].message.content == "from the fake"
    assert {m.id for m in client.models.list()} == {"chat", "strict-chat", "broken", "offline", "embed"}


def test_retrieving_one_model(gateway: RunningGateway, client: openai.OpenAI) -> None:
    model = client.models.retrieve("chat")
    assert (model.id, model.object, model.owned_by) == ("chat", "model", "raceway")
    for unknown in ("gpt-9", "no/such"):
        with pytest.raises(openai.NotFoundError) as caught:
            client.models.retrieve(unknown)
        assert caught.value.code == "model_not_found" and caught.value.param == "model"
    limited = openai.OpenAI(base_url=gateway.api_url, api_key=LIMITED_KEY, max_retries=0)
    assert limited.models.retrieve("offline").id == "offline"
    with pytest.raises(openai.NotFoundError):  # a model the key may not use does not exist for it
        limited.models.retrieve("chat")
    stranger = openai.OpenAI(base_url=gateway.api_url, api_key="wrong-key-123", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.models.retrieve("chat")


def test_embeddings(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="embed", input=["a", "b"])
    assert [item.index for item in result.data] == [0, 1]


# -- every error case: OpenAI-shaped, right status, and the gateway keeps serving ----------


def test_malformed_json_is_400(gateway: RunningGateway) -> None:
    assert_openai_error(post(gateway, b"{nope"), 400, "invalid_json")


def test_wrong_types_are_400_naming_the_field(gateway: RunningGateway) -> None:
    error = assert_openai_error(
        post(gateway, b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "n": "two"}'), 400
    )
    assert error["param"] == "n"
    error = assert_openai_error(post(gateway, b'{"model": "chat"}'), 400, "missing_field")
    assert error["param"] == "messages"


def test_redirecting_fields_are_refused(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    body = (
        b'{"model": "chat", "messages": [{"role": "user", "content": "x"}], "api_base": "http://127.0.0.2:1"}'
    )
    assert_openai_error(post(gateway, body), 400, "forbidden_field")
    assert threaded_upstream.requests == []


def test_missing_and_wrong_keys_are_401(gateway: RunningGateway) -> None:
    def failures(reason: str) -> float:
        return gateway.metric(f'raceway_auth_failures_total{{reason="{reason}"}}')

    before = {reason: failures(reason) for reason in ("missing", "invalid", "blocked")}
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "x"}]}'
    assert_openai_error(post(gateway, body, key=None), 401, "missing_api_key")
    assert_openai_error(post(gateway, body, key="rw-integration-key-X"), 401, "invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gateway.api_url, api_key="wrong-key-123", max_retries=0).models.list()
    expected = {"missing": 1, "invalid": 2, "blocked": 0}  # blocked: no limit by default
    after = {
        reason: gateway.metric_reaching(
            f'raceway_auth_failures_total{{reason="{reason}"}}', before[reason] + count
        )
        for reason, count in expected.items()
    }
    assert {reason: after[reason] - before[reason] for reason in after} == expected


def test_an_address_that_keeps_failing_is_refused_until_it_falls_under_the_limit(
    tmp_path: Path, threaded_upstream: FakeUpstream
) -> None:
    config = gateway_config(threaded_upstream).replace(
        "max_body_size: 64KiB,", "max_body_size: 64KiB, auth_failures_per_minute: 4,"
    )
    body = b'{"model": "offline", "messages": [{"role": "user", "content": "x"}]}'
    with serving(config, tmp_path, env={"UPSTREAM_KEY": UPSTREAM_SECRET}) as gateway:
        # One connection, so one worker: it enforces its share, 4 / 2 workers = 2 a minute.
        with httpx.Client(base_url=gateway.api_url, timeout=10) as client:

            def ask(key: str) -> httpx.Response:
                return client.post(
                    "/chat/completions", content=body, headers={"authorization": f"Bearer {key}"}
                )

            assert [ask("guess-000001").status_code, ask("guess-000002").status_code] == [401, 401]
            refused = ask("guess-000003")
            assert_openai_error(refused, 429, "too_many_auth_failures")
            assert 1 <= int(refused.headers["retry-after"]) <= 30
            assert_openai_error(ask(KEY), 429, "too_many_auth_failures")  # the key is not even looked at
        assert gateway.metric_reaching('raceway_auth_failures_total{reason="invalid"}', 2) == 2
        assert gateway.metric_reaching('raceway_auth_failures_total{reason="blocked"}', 2) == 2


def test_a_key_limited_to_some_models(gateway: RunningGateway) -> None:
    limited = openai.OpenAI(base_url=gateway.api_url, api_key=LIMITED_KEY, max_retries=0)
    assert [m.id for m in limited.models.list()] == ["offline"]
    response = post(
        gateway, b'{"model": "chat", "messages": [{"role": "user", "content": "x"}]}', key=LIMITED_KEY
    )
    assert_openai_error(response, 403, "model_not_allowed")


def test_unknown_model_is_404_and_reveals_nothing(gateway: RunningGateway) -> None:
    error = assert_openai_error(
        post(gateway, b'{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}'), 404
    )
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "primary" not in str(error["message"]) and "127.0.0.1" not in str(error["message"])


def test_oversized_body_is_413(gateway: RunningGateway) -> None:
    big = b'{"model": "chat", "messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}'
    assert_openai_error(post(gateway, big), 413, "request_too_large")


def test_upstream_failure_is_502_and_unreachable_upstream_too(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("primary", Behaviour(status=500))
    threaded_upstream.script("secondary", Behaviour(status=502))
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "x"}]}'
    assert_openai_error(post(gateway, body), 502, "upstream_error")
    assert_openai_error(
        post(gateway, b'{"model": "broken", "messages": [{"role": "user", "content": "x"}]}'), 502
    )


@pytest.mark.parametrize("stream", [False, True])
def test_the_sdk_does_not_retry_what_raceway_already_retried(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, stream: bool
) -> None:
    threaded_upstream.script("primary", Behaviour(status=500))
    threaded_upstream.script("secondary", Behaviour(status=503))
    retrying = openai.OpenAI(base_url=gateway.api_url, api_key=KEY, max_retries=2, timeout=10)
    with pytest.raises(openai.APIStatusError) as failed:
        retrying.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "x"}], stream=stream
        )
    # Raceway's own attempts, one per deployment, and no more: the SDK retried none of them.
    assert (threaded_upstream.calls("primary"), threaded_upstream.calls("secondary")) == (1, 1)
    assert failed.value.status_code == 502
    assert failed.value.response.headers["x-should-retry"] == "false"


def test_upstream_timeout_is_504(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    threaded_upstream.script("primary", Behaviour(delay=3))
    threaded_upstream.script("secondary", Behaviour(delay=3))
    body = b'{"model": "chat", "messages": [{"role": "user", "content": "x"}]}'
    assert_openai_error(post(gateway, body), 504, "upstream_timeout")


def test_upstream_400_passes_through_without_retry(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "strict",
        Behaviour(
            status=400,
            error={"error": {"message": "max_tokens is too large", "param": "max_tokens", "code": None}},
        ),
    )
    body = b'{"model": "strict-chat", "messages": [{"role": "user", "content": "x"}]}'
    error = assert_openai_error(post(gateway, body), 400)
    assert error["message"] == "max_tokens is too large" and error["param"] == "max_tokens"
    assert threaded_upstream.calls("secondary") == 0


def test_upstream_auth_failure_does_not_leak_the_provider_key(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "strict",
        Behaviour(status=401, error={"error": {"message": f"Incorrect API key provided: {UPSTREAM_SECRET}"}}),
    )
    body = b'{"model": "strict-chat", "messages": [{"role": "user", "content": "x"}]}'
    assert_openai_error(post(gateway, body), 502, "upstream_auth_failed")


def test_unknown_route_and_wrong_method(gateway: RunningGateway) -> None:
    assert_openai_error(httpx.get(f"{gateway.base_url}/v1/nothing"), 404)
    assert_openai_error(httpx.get(f"{gateway.api_url}/chat/completions"), 405)


def test_gateway_keeps_serving_after_every_error(gateway: RunningGateway, client: openai.OpenAI) -> None:
    for body in (b"{", b"[]", b'{"model": 1}', b"\xff\xfe", b'{"model": "chat", "messages": "x"}'):
        assert post(gateway, body).status_code == 400
    assert client.chat.completions.create(
        model="offline", messages=[{"role": "user", "content": "x"}]
    ).choices


def test_health_ready_and_metrics(gateway: RunningGateway, client: openai.OpenAI) -> None:
    assert httpx.get(f"{gateway.base_url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{gateway.base_url}/ready").json()
    assert ready["status"] == "ready" and len(ready["config"]) == 16

    def offline_count() -> float:
        for line in httpx.get(f"{gateway.base_url}/metrics").text.splitlines():
            if line.startswith('raceway_requests_total{model="offline",status_class="2xx"}'):
                return float(line.split()[-1])
        return 0.0

    before = offline_count()
    for _ in range(6):
        client.chat.completions.create(model="offline", messages=[{"role": "user", "content": "x"}])
    # Once the last answer's count is written, whichever worker answers a scrape reports the sum
    # over both workers.
    gateway.metric_reaching('raceway_requests_total{model="offline",status_class="2xx"}', before + 6)
    assert [offline_count() - before for _ in range(4)] == [6.0] * 4
    metrics = httpx.get(f"{gateway.base_url}/metrics").text
    assert UPSTREAM_SECRET not in metrics and KEY not in metrics


def test_access_log_has_one_json_line_per_request_and_no_secrets(
    gateway: RunningGateway, client: openai.OpenAI
) -> None:
    import json
    import time

    response = post(
        gateway,
        b'{"model": "offline", "messages": [{"role": "user", "content": "hello there"}]}',
        **{"x-request-id": "trace-abc-123"},
    )
    assert response.headers["x-request-id"] == "trace-abc-123"
    generated = post(gateway, b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}')
    request_id = generated.headers["x-request-id"]
    assert len(request_id) == 32
    # Both lines waited for: each request may have had a worker of its own, and a worker writes
    # its lines at the end of a turn of its loop, which may come after its answer went out.
    deadline = time.monotonic() + 5
    lines: list[dict[str, object]] = []
    while time.monotonic() < deadline and not {"trace-abc-123", request_id} <= {
        line.get("request_id") for line in lines
    }:
        lines = [json.loads(line) for line in list(gateway.output) if line.startswith('{"ts"')]
        time.sleep(0.05)
    by_id = {line["request_id"]: line for line in lines}
    ok = by_id["trace-abc-123"]
    assert ok["key"] == "ci" and ok["model"] == "offline" and ok["deployment"] == "builtin", ok
    assert ok["status"] == 200 and ok["attempts"] == 1 and ok["prompt_tokens"] == 3, ok
    assert isinstance(ok["latency_ms"], float) and ok["stream"] is False
    missing = by_id[request_id]
    assert (
        missing["status"] == 404 and missing["error"] == "model_not_found" and missing["model"] == "(unknown)"
    )
    assert all(KEY not in line and UPSTREAM_SECRET not in line for line in gateway.output)
