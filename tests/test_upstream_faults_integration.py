"""Upstreams that could exhaust or mislead the gateway, on the real server (one worker).

Each fault is scripted on the fake upstream; the gateway must stay within its memory,
fail over to a healthy deployment when there is one, answer 502 in OpenAI's shape when
there is none, and keep serving.
"""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.test_server import children
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

HEALTHY_KEY = "hk-9f8e7d6c5b4a-healthy-secret"  # shaped like no known key: only its value betrays it
MiB = 1024 * 1024
ATTEMPTED = 128 * MiB  # what a faulty upstream tries to send
LIMIT = 8 * MiB  # max_response_size of the faulty deployments


def gateway_config(upstream: FakeUpstream) -> str:
    base = upstream.base_url
    return f"""
    server: {{graceful_timeout: 5s}}
    deployments:
      - {{name: faulty, provider: openai, base_url: "{base}", model: faulty, timeout: 20s,
         max_response_size: 8MiB, cooldown: {{failures: 1000}}}}
      - {{name: healthy, provider: openai, base_url: "{base}", model: healthy, timeout: 5s,
         api_key: "${{HEALTHY_KEY}}"}}
      - {{name: rootless, provider: openai, base_url: "{base.removesuffix("/v1")}", model: rootless,
         timeout: 5s, cooldown: {{failures: 1000}}}}
      - {{name: failing, provider: openai, base_url: "{base}", model: failing, timeout: 5s,
         cooldown: {{failures: 1000}}}}
    models:
      - {{name: alone, deployments: [faulty]}}
      - {{name: backed, deployments: [faulty, healthy]}}
      - {{name: misrouted, deployments: [rootless, healthy]}}
      - {{name: misrouted-alone, deployments: [rootless]}}
      - {{name: all-failing, deployments: [rootless, failing]}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    """One worker, so the process whose memory is measured is the one that served."""
    return gateways.serve(gateway_config(module_upstream), workers=1, env={"HEALTHY_KEY": HEALTHY_KEY})


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway, timeout=30)


def chat(
    gateway: RunningGateway,
    model: str,
    *,
    stream: bool = False,
    pin: str | None = None,
    request_id: str | None = None,
) -> httpx.Response:
    """``pin``: the deployment to call whatever its breaker says (x-raceway-deployment)."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    headers = {"x-raceway-deployment": pin} if pin else {}
    if request_id is not None:
        headers["x-request-id"] = request_id
    return httpx.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers, timeout=30)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak resident size) of a process, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


HUGE_ANSWERS = [
    Behaviour(huge=ATTEMPTED),  # a JSON answer
    Behaviour(status=500, huge=ATTEMPTED),  # an error body
    Behaviour(huge=ATTEMPTED, gzip=True),  # a gzip bomb: ~130 KiB on the wire
]


def test_huge_answers_are_refused_within_bounded_memory(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    (worker,) = children(gateway.process.pid)
    assert chat(gateway, "alone").status_code == 200  # warm: first-call allocations are not the fault's
    assert chat(gateway, "alone", stream=True).status_code == 200
    before = memory_kib(worker)
    answers = []
    for behaviour in HUGE_ANSWERS:
        threaded_upstream.script("faulty", behaviour)
        answers.append(chat(gateway, "alone"))
    threaded_upstream.script("faulty", Behaviour(huge=ATTEMPTED))  # a stream line that never ends
    answers.append(chat(gateway, "alone", stream=True))
    after = memory_kib(worker)
    print(f"worker memory before {before}, after {after} (KiB)")
    # Each fault tried to send 128 MiB; reading stops at the 8 MiB limit.
    assert after["VmHWM"] - before["VmHWM"] < 48 * 1024, (before, after)
    assert after["VmRSS"] - before["VmRSS"] < 48 * 1024, (before, after)
    for response in answers:
        assert response.status_code == 502, response.text[:200]
        assert response.json()["error"]["code"] == "upstream_response_too_large"


@pytest.mark.parametrize("behaviour", HUGE_ANSWERS, ids=["json", "error-body", "gzip-bomb"])
def test_a_huge_answer_fails_over_to_a_healthy_deployment(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, behaviour: Behaviour
) -> None:
    threaded_upstream.script("faulty", behaviour)
    response = chat(gateway, "backed")
    assert response.status_code == 200, response.text[:200]
    assert response.headers["x-raceway-deployment"] == "healthy"
    assert response.json()["choices"][0]["message"]["content"] == "hello from upstream"


def test_an_endless_stream_line_fails_over_before_any_byte_reaches_the_client(
    client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("faulty", Behaviour(huge=ATTEMPTED))
    threaded_upstream.script("healthy", Behaviour(reply="a healthy stream"))
    stream = client.chat.completions.create(
        model="backed", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "a healthy stream"


NGINX_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


def test_a_200_that_is_not_a_completion_fails_over_or_is_a_502(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("faulty", Behaviour(body=NGINX_PAGE, content_type="text/html"))
    answer = client.chat.completions.with_raw_response.create(
        model="backed", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.headers["x-raceway-deployment"] == "healthy"
    assert answer.parse().choices[0].message.content == "hello from upstream"
    threaded_upstream.script("faulty", Behaviour(body=b'{"object": "list", "data": []}'))
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="alone", messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 502
    error = chat(gateway, "alone").json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == "upstream_invalid_answer"


# -- streams cut after their first content: the client always learns it ------------------


def access_log_line(gateway: RunningGateway, request_id: str) -> dict[str, object]:
    """The access-log line of ``request_id`` (written once the request is over)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in list(gateway.output):
            if line.startswith('{"ts"') and (entry := json.loads(line))["request_id"] == request_id:
                return entry  # type: ignore[no-any-return]
        time.sleep(0.02)
    raise AssertionError(f"no access-log line for {request_id}")


CUTS = [
    Behaviour(reply="one two three four", end_without_done=True),  # a clean end, but no [DONE]
    Behaviour(reply="one two three four", reset_after=2),  # a TCP reset after two words
    Behaviour(reply="one two three four", cut_after=2),  # half an event, then closed
    Behaviour(reply="one two three four", error_after=2),  # the upstream's own error event
]
CUT_IDS = ["no-done", "reset", "half-event", "error-event"]


@pytest.mark.parametrize(("behaviour", "cut"), list(zip(CUTS, CUT_IDS, strict=True)), ids=CUT_IDS)
def test_a_stream_cut_after_content_ends_with_an_error_the_sdk_raises(
    gateway: RunningGateway,
    client: openai.OpenAI,
    threaded_upstream: FakeUpstream,
    behaviour: Behaviour,
    cut: str,
) -> None:
    threaded_upstream.script("faulty", behaviour)
    metric = 'raceway_upstream_requests_total{deployment="faulty",outcome="stream_cut"}'
    before = gateway.metric(metric)
    stream = client.chat.completions.create(
        model="alone",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-request-id": f"cut-{cut}"},
    )
    text = ""
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            text += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert text.startswith("one")
    assert "faulty" in raised.value.message  # the gateway's own error event, naming the deployment
    line = access_log_line(gateway, f"cut-{cut}")
    assert line["error"] == "stream_cut" and line["deployment"] == "faulty" and line["status"] == 200
    assert gateway.metric(metric) == before + 1


# -- Retry-After: capped, and parsed whatever it says ---------------------------------------


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT", "soon"])
def test_any_retry_after_is_a_429_in_openai_shape(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, value: str
) -> None:
    threaded_upstream.script("faulty", Behaviour(status=429, headers={"Retry-After": value}))
    # Pinned, so the cooldown one case starts (up to max_retry_after) does not answer the next.
    response = chat(gateway, "alone", pin="faulty")
    assert response.status_code == 429, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert int(response.headers.get("retry-after", "0")) <= 60


# -- what upstream errors pass on is scrubbed of every configured secret --------------------


def test_an_upstream_error_echoing_a_configured_secret_reaches_no_client_and_no_log(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    echo = {
        "error": {
            "message": f"unknown header x-api-key: {HEALTHY_KEY}",
            "param": f"header x-api-key: {HEALTHY_KEY[:14]}…",
            "code": f"bad_key_{HEALTHY_KEY}",
        }
    }
    threaded_upstream.script("faulty", Behaviour(status=400, error=echo))
    response = chat(gateway, "alone", pin="faulty", request_id="echoed-secret")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error == {
        "message": "unknown header x-api-key: ***",
        "type": "invalid_request_error",
        "param": "header x-api-key: ***",
        "code": "bad_key_***",
    }
    line = access_log_line(gateway, "echoed-secret")
    assert line["error"] == "bad_key_***"
    assert not any(HEALTHY_KEY[:8] in output for output in gateway.output)


# -- a 404 is the deployment's fault: the next one answers, and the log says who failed -----


def test_a_base_url_without_v1_fails_over_to_the_next_deployment(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    answer = chat(gateway, "misrouted", request_id="misrouted-ok")
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-raceway-deployment"] == "healthy" and answer.headers["x-raceway-attempts"] == "2"
    line = access_log_line(gateway, "misrouted-ok")
    assert (line["deployment"], line["attempts"], line["status"]) == ("healthy", 2, 200)
    metric = 'raceway_upstream_requests_total{deployment="rootless",outcome="error"}'
    assert gateway.metric(metric) >= 1


def test_every_error_line_of_the_access_log_names_the_deployment_and_the_calls(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    alone = chat(gateway, "misrouted-alone", request_id="misrouted-alone")
    assert alone.status_code == 502 and alone.json()["error"]["code"] == "upstream_not_found"
    line = access_log_line(gateway, "misrouted-alone")
    assert (line["deployment"], line["attempts"], line["error"]) == ("rootless", 1, "upstream_not_found")
    threaded_upstream.script("failing", Behaviour(status=500))
    both = chat(gateway, "all-failing", request_id="all-failing")
    assert both.status_code == 502
    line = access_log_line(gateway, "all-failing")
    assert (line["deployment"], line["attempts"], line["error"]) == ("failing", 2, "upstream_error")
    threaded_upstream.script("faulty", Behaviour(status=400))
    refused = chat(gateway, "alone", pin="faulty", request_id="refused")
    assert refused.status_code == 400
    line = access_log_line(gateway, "refused")
    assert (line["deployment"], line["attempts"]) == ("faulty", 1)
