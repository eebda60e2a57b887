"""A short chaos soak in ``make test``: real worker processes, one SIGKILLed mid-job, Redis restarted (its
append-only file kept) and object storage cut off, all while the jobs run.

The soak itself (``tests/chaostools.py``) is shared with ``bench/chaos_bench.py``, which runs longer and
harder ones; this one is sized to stay well under two minutes on two cores and still strike every kind
of chaos while work is in flight, because chaos after the queue drained proves nothing.
"""

from __future__ import annotations

from pathlib import Path

from tests.chaostools import Plan, soak
from tests.fleettools import Receiver, RedisServer

#: 30 short renders on 2 workers; every event waits for a running job. The outage lasts 20 s because that is
#: what a retry budget that counts transient failures as worker deaths does not survive: before issue 11's
#: fix this soak failed 9 of the 30 jobs as ``internal`` ("stopped the worker running it 3 times"); 12 s
#: did not show it. About 45 s in all on two cores, most of it the SIGKILLed job's 30 s lease.
PLAN = Plan(jobs=30, tenants=3, workers=2, kill_every=3.0, max_kills=1, redis_restart_at=5.0, outage_at=7.0,
            outage_seconds=20.0, deadline=100.0, seed=11, source="pattern.mp4", length=3.0)


def test_a_soak_loses_fails_and_duplicates_nothing(fleet_env: dict[str, str], redis_server: RedisServer,
                                                   s3_endpoint: str, bucket: str, media: Path,
                                                   receiver: Receiver) -> None:
    timeline: list[str] = []
    report = soak(PLAN, env=fleet_env, redis=redis_server, s3_port=int(s3_endpoint.rsplit(":", 1)[1]),
                  bucket=bucket, media=media, receiver=receiver, log=timeline.append)
    story = "\n".join([report.line(), *timeline, f"events: {report.events}",
                       f"wrongly failed: {report.wrongly_failed}"])

    # the chaos happened, and while jobs ran
    assert (report.kills, report.redis_restarts, report.outages) == (1, 1, 1), story
    struck = [(what, running) for _, what, running in report.events if what != "restore"]
    assert len(struck) == 3 and all(running > 0 for _, running in struck), report.events
    assert report.takeovers, f"the SIGKILLed worker held no job, so no takeover was measured\n{story}"

    # and nothing was lost, failed wrongly, done twice or left untold
    assert report.lost == [], story
    assert report.wrongly_failed == [], story
    assert report.duplicated == [], story
    assert report.unannounced == [], story
    assert report.completed == PLAN.jobs, story
    assert report.slowest_takeover <= 60.0, story
    assert receiver.bad_signatures == 0
    print(story)  # the soak's timeline, for `pytest -s`
