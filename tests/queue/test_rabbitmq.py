"""The same fleet on RabbitMQ: one code path for every broker, job state in Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from framefleet.client import Client
from framefleet.config import Settings
from tests.fleettools import Receiver, Worker, free_port

RABBIT = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # the plain server, without the wrapper that changes user


@pytest.fixture(scope="module")
def amqp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not shutil.which("rabbitmq-server") or not Path(RABBIT).exists():
        pytest.fail("rabbitmq-server is not installed (make test installs it)")
    home = tmp_path_factory.mktemp("rabbitmq")
    (home / "plugins").write_text("[].\n")
    port = free_port()
    env = {**os.environ, "HOME": str(home), "RABBITMQ_NODE_PORT": str(port), "RABBITMQ_DIST_PORT": str(free_port()),
           "RABBITMQ_NODENAME": f"framefleet-test-{port}@localhost", "RABBITMQ_MNESIA_BASE": str(home / "db"),
           "RABBITMQ_LOG_BASE": str(home / "log"), "RABBITMQ_LOGS": "-",
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "plugins")}
    proc = subprocess.Popen([RABBIT], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.25)
    else:
        proc.kill()
        pytest.fail("rabbitmq-server did not start")
    yield f"amqp://guest:guest@127.0.0.1:{port}/"
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def test_render_through_rabbitmq(fleet_env: dict[str, str], workers: list[Worker], media: Path, amqp_url: str,
                                 receiver: Receiver) -> None:
    env = {**fleet_env, "FRAMEFLEET_BROKER_URL": amqp_url, "FRAMEFLEET_STATE_URL": fleet_env["FRAMEFLEET_BROKER_URL"]}
    workers.append(Worker(env))
    spec = {"output": {"width": 320, "height": 240},
            "tracks": [{"clips": [{"type": "video", "src": str(media / "red.mp4"), "length": 1}]}]}
    with Client(Settings.from_env(env)) as client:
        done = client.wait(client.submit(spec, webhook=receiver.url)["id"], timeout=90)
    assert done["status"] == "completed" and done["result"]["duration"] == 1.0
    assert receiver.wait_for(1)[0]["data"]["job_id"] == done["id"]


def test_rabbitmq_without_state_url_is_a_clear_error(amqp_url: str) -> None:
    from framefleet.errors import BadInput

    with pytest.raises(BadInput, match="FRAMEFLEET_STATE_URL"):
        Client(Settings.from_env({"FRAMEFLEET_BROKER_URL": amqp_url}))
