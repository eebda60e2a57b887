"""Fair shares between tenants: new jobs wait in one line per tenant, and are released to the Dramatiq
queues in turns, a few at a time.

Dramatiq's queues are first in, first out: a tenant that submits 1,000 renders would put every other
tenant's next render behind all of them. So a submitted job is *held* (the job store keeps one line per
tenant and queue), and every worker process releases jobs from the lines in turn: the tenant served
longest ago first, one job per tenant per round, only while the queue holds fewer than
``FRAMEFLEET_DISPATCH_AHEAD`` messages, and never beyond ``FRAMEFLEET_TENANT_CONCURRENCY`` jobs of one
tenant running or released at once. A new tenant's job is released at the next turn and waits behind
at most ``DISPATCH_AHEAD`` messages: about one render's time.

Everything after release is Dramatiq as before (retries, delays, takeovers). The line lives in the job
store's Redis, so it survives a worker's death; a released job whose message was lost (the worker died
between release and send) is sent again by the lease sweep (``lifecycle.sweep``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from framefleet import policy
from framefleet.worker.runtime import Runtime

log = logging.getLogger(__name__)


def release(rt: Runtime, queues: Sequence[str], depth: Callable[[str], int]) -> list[str]:
    """One turn: release held jobs into ``queues`` while each has room; returns the ids sent."""
    sent: list[str] = []
    for queue in queues:
        room = rt.settings.dispatch_ahead - depth(queue)
        if room <= 0:
            continue
        for job_id in rt.store.release(queue, room=room, cap=rt.settings.tenant_concurrency):
            rt.enqueue(queue, job_id)
            sent.append(job_id)
    return sent


def run(rt: Runtime, queues: Sequence[str], depth: Callable[[str], int], stop: threading.Event) -> None:
    """Release jobs every ``policy.DISPATCH_INTERVAL`` until ``stop``; a store or broker that blinks is
    tried again next turn (the held jobs wait safely in the store meanwhile)."""
    while not stop.wait(policy.DISPATCH_INTERVAL):
        try:
            release(rt, queues, depth)
        except Exception:
            log.warning("releasing held jobs failed; trying again", exc_info=True)
