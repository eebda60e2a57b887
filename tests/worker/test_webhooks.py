"""Webhook events and signatures (SPEC §5), checked with the receiver code the product docs give customers."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from framefleet.queue.jobs import Job
from framefleet.worker.webhooks import DeliveryFailed, deliver, encode, event, signature
from tests.fleettools import verify


def finished(status: str, **kw: object) -> Job:
    return Job(id="j1", type="render", tenant="acme", payload={}, status=status, finished_at=1718000000.0,
               metadata={"my_ref": "post-123"}, **kw)  # type: ignore[arg-type]


def test_event_shape() -> None:
    done = event(finished("completed", result={"url": "https://cdn/x.mp4", "thumbnail_url": "https://cdn/x.jpg"}))
    assert done == {"id": "evt_j1_completed", "type": "job.completed", "created": 1718000000,
                    "data": {"job_id": "j1", "status": "completed", "type": "render",
                             "result_url": "https://cdn/x.mp4", "thumbnail_url": "https://cdn/x.jpg",
                             "error": None, "metadata": {"my_ref": "post-123"}}}
    failed = event(finished("failed", error={"code": "bad_media", "message": "a.mp4 cannot be decoded"}))
    assert failed["type"] == "job.failed" and failed["data"]["error"]["code"] == "bad_media"
    assert event(finished("canceled"))["type"] == "job.canceled"


def test_signature_passes_the_documented_check() -> None:
    body = encode(event(finished("completed")))
    header = signature("whsec_x", body, int(time.time()))
    assert verify("whsec_x", body, header)
    assert not verify("whsec_other", body, header)
    assert not verify("whsec_x", body + b" ", header)
    assert not verify("whsec_x", body, signature("whsec_x", body, int(time.time()) - 600))  # stale
    assert json.loads(body)["id"] == "evt_j1_completed"


def test_private_webhook_urls_are_refused() -> None:
    # refused while resolving, before any connection is attempted
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/hook"):
        with pytest.raises(DeliveryFailed, match="private or reserved"):
            deliver(url, b"{}", secret="s", timeout=2, allow_private=False)


def test_a_webhook_url_turned_private_fails_once_and_its_token_is_never_logged(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from framefleet.config import Settings
    from framefleet.worker.wiring import build_runtime

    settings = Settings.from_env({"FRAMEFLEET_CACHE_DIR": str(tmp_path / "cache"), "FRAMEFLEET_WEBHOOK_SECRET": "s",
                                  "FRAMEFLEET_STORAGE_URL": f"file://{tmp_path / 'out'}"})
    _, broker, actors = build_runtime(settings)
    try:
        with caplog.at_level(logging.DEBUG):
            # accepted at submit while public, resolving to loopback now: one attempt, no retry raised
            actors.webhooks.fn("http://127.0.0.1:9/hook?token=SECRET", "{}")
    finally:
        broker.close()
    assert "giving up" in caplog.text and "http://127.0.0.1:9/hook" in caplog.text
    assert "SECRET" not in caplog.text
    with pytest.raises(DeliveryFailed) as caught:
        deliver("http://127.0.0.1:9/hook?token=SECRET", b"{}", secret="s", timeout=2, allow_private=False)
    assert caught.value.permanent and "SECRET" not in str(caught.value)


def test_webhook_urls_are_checked_before_submit() -> None:
    from framefleet.errors import SpecError
    from framefleet.worker.webhooks import check_url, shown

    for url in ("http://127.0.0.1/h?token=SECRET", "http://[::1]/h", "https://a:SECRET@example.com/h",
                "file:///etc/passwd", "https://example.com:99999/h", "https://exa mple.com/h"):
        with pytest.raises(SpecError) as caught:
            check_url(url, allow_private=False)
        assert caught.value.problems[0].path == "webhook" and "SECRET" not in caught.value.message
    check_url("http://127.0.0.1:8080/hooks?token=x", allow_private=True)  # development and tests
    assert shown("https://u:p@hooks.example.com:8443/in?token=SECRET") == "https://hooks.example.com:8443/in"
