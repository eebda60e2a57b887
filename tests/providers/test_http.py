"""The provider HTTP helper against a local server: Retry-After, backoff, time-outs, refusals, cancel."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from framefleet.config import Settings
from framefleet.errors import BadInput, Canceled, ProviderError, ProviderUnavailable
from framefleet.provider_config import ProviderConfig, load_providers
from framefleet.providers.http import ProviderHTTP, retry_after
from tests.providers.fakes import Reply, serve

KEY = "sk-secret-key-123"


def client(url: str, cancel: threading.Event | None = None, **options: float) -> ProviderHTTP:
    config = ProviderConfig(type="text", provider="openai", base_url=url, allow_private=True,
                            api_key=KEY, **options)  # type: ignore[arg-type]
    return ProviderHTTP(config, cancel=cancel or threading.Event(), headers={"Authorization": f"Bearer {KEY}"})


def test_429_waits_for_retry_after_then_succeeds() -> None:
    with serve() as api:
        api.on("POST", "/chat", Reply(429, {"error": {"code": "rate_limit"}}, {"Retry-After": "1"}),
               Reply(200, {"ok": 1}))
        assert client(api.url).json("POST", "/chat", {"a": 1}) == {"ok": 1}
        first, second = api.calls("POST", "/chat")
        assert second.at - first.at >= 0.95
        assert first.headers["Authorization"] == f"Bearer {KEY}"


def test_a_long_retry_after_hands_the_job_back_with_that_delay() -> None:
    with serve() as api:
        api.on("POST", "/chat", Reply(429, {}, {"Retry-After": "120"}))
        with pytest.raises(ProviderUnavailable) as caught:
            client(api.url).json("POST", "/chat", {})
        assert caught.value.retry_after == 120
        assert caught.value.transient and len(api.calls("POST", "/chat")) == 1


def test_server_errors_back_off_then_succeed() -> None:
    with serve() as api:
        api.on("POST", "/chat", Reply(502, b"bad gateway"), Reply(503, b"busy"), Reply(200, {"ok": True}))
        assert client(api.url).json("POST", "/chat", {}) == {"ok": True}
        times = [s.at for s in api.calls("POST", "/chat")]
        assert len(times) == 3 and times[2] - times[1] > times[1] - times[0] >= 0.45  # exponential


def test_time_outs_retry_then_fail_transient_within_bounds() -> None:
    with serve() as api:
        api.on("POST", "/chat", Reply(200, {"late": True}, delay=30))
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as caught:
            client(api.url, timeout=0.5, retries=2).json("POST", "/chat", {})
        assert time.monotonic() - started < 4
        assert len(api.calls("POST", "/chat")) == 2
        assert "did not answer in time" in caught.value.message


def test_malformed_answer_is_a_provider_error_without_the_body() -> None:
    with serve() as api:
        api.on("POST", "/chat", Reply(200, b"<html>oops " + KEY.encode() + b"</html>", {"Content-Type": "text/html"}))
        with pytest.raises(ProviderError) as caught:
            client(api.url).json("POST", "/chat", {})
        assert caught.value.message == "openai sent an answer that is not JSON"
        assert not caught.value.transient


@pytest.mark.parametrize(("reply", "message"), [
    (Reply(400, {"error": {"code": "content_policy_violation", "message": "your prompt about X was flagged"}}),
     "the text request was refused by openai's content policy"),
    (Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}),
     "openai refused this worker's credentials (HTTP 401)"),
    (Reply(422, {"detail": "bad field 'prompt': private text"}), "openai refused the text request (HTTP 422)"),
])
def test_refusals_fail_at_once_with_a_safe_message(reply: Reply, message: str) -> None:
    with serve() as api:
        api.on("POST", "/chat", reply)
        with pytest.raises(ProviderError) as caught:
            client(api.url).json("POST", "/chat", {"prompt": "private text"})
        assert caught.value.message == message
        assert not caught.value.transient and len(api.calls("POST", "/chat")) == 1
        assert KEY not in str(caught.value) and "private" not in str(caught.value)


def test_cancel_abandons_a_request_in_flight() -> None:
    cancel = threading.Event()
    with serve() as api:
        api.on("POST", "/chat", Reply(200, {}, delay=30))
        threading.Timer(0.5, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(Canceled):
            client(api.url, cancel, timeout=60).json("POST", "/chat", {})
        assert time.monotonic() - started < 1.5


def test_private_addresses_need_the_operators_word() -> None:
    with serve() as api:
        config = ProviderConfig(type="text", provider="openai", base_url=api.url)
        with pytest.raises(ProviderError) as caught:
            ProviderHTTP(config, cancel=threading.Event(), headers={}).json("GET", "/models")
        assert caught.value.message == "openai cannot be reached from this worker"
        assert api.seen == []


def test_retry_after_dates_and_nonsense() -> None:
    assert retry_after("7") == 7
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10, abs=1)
    assert retry_after("soon") is None and retry_after(None) is None


def test_providers_file_is_checked_and_keys_stay_out_of_sight(tmp_path: Path) -> None:
    good = tmp_path / "providers.toml"
    good.write_text('[text]\nprovider = "openai"\napi_key_env = "MY_KEY"\ntimeout = 5\nvoice = "x"\n')
    settings = Settings.from_env({"FRAMEFLEET_PROVIDERS": str(good), "MY_KEY": KEY})
    assert settings.providers is not None
    text = settings.providers.types["text"]
    assert (text.api_key, text.timeout, text.option("voice")) == (KEY, 5.0, "x")
    assert KEY not in repr(settings) and KEY not in repr(text)
    for body, message in [('[text]\nprovider = "local"\n', "[text]: the local provider does not do text"),
                          ('[text]\nprovider = "openai"\ntimeout = -1\n', "[text].timeout must be a number"),
                          ('[sing]\nprovider = "openai"\n', "unknown generation type(s) sing"),
                          ('[text\n', "not valid TOML")]:
        bad = tmp_path / "bad.toml"
        bad.write_text(body)
        with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            load_providers(bad, {})
