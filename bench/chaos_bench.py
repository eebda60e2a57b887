"""Chaos soak (issue 11): jobs from several tenants on several workers while workers are SIGKILLed, Redis
restarts and object storage goes away for a while; prints lost / wrongly failed / duplicated jobs and the
slowest takeover, for each of several runs.

    python bench/chaos_bench.py [--runs 3] [--jobs 120] [--workers 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from framefleet.samples import make_all
from tests.chaostools import Plan, soak
from tests.fleettools import SECRET, RedisServer, free_port, receiver_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=120)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    work = Path(tempfile.mkdtemp(prefix="framefleet-chaos-"))
    media = work / "media"
    make_all(media)
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    import boto3

    clean = 0
    try:
        for run in range(args.runs):
            redis = RedisServer(free_port(), work / f"redis{run}")
            redis.start()
            bucket = f"chaos{run}"
            boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}").create_bucket(Bucket=bucket)
            env = {**os.environ, "FRAMEFLEET_BROKER_URL": redis.url, "FRAMEFLEET_STORAGE_URL": f"s3://{bucket}/results",
                   "FRAMEFLEET_ALLOW_PRIVATE_URLS": "true", "FRAMEFLEET_LOCAL_ROOT": str(media),
                   "FRAMEFLEET_WEBHOOK_SECRET": SECRET, "FRAMEFLEET_WEBHOOK_MIN_BACKOFF_MS": "100",
                   "FRAMEFLEET_CACHE_DIR": str(work / f"cache{run}"), "PYTHONUNBUFFERED": "1"}
            plan = Plan(jobs=args.jobs, workers=args.workers, kill_every=20, redis_restart_at=30, outage_at=45,
                        outage_seconds=15, deadline=900, seed=run)
            with receiver_server() as receiver:
                report = soak(plan, env=env, redis=redis, s3_port=s3_port, bucket=bucket, media=media,
                              receiver=receiver, log=lambda line: print("   ", line, flush=True))
            redis.stop()
            print(f"run {run + 1}: {report.line()}", flush=True)
            for job_id, error in report.wrongly_failed:
                print(f"    wrongly failed {job_id}: {error}")
            clean += report.clean
    finally:
        moto.stop()
    print(f"chaos soak: {clean} of {args.runs} runs lost, wrongly failed and duplicated nothing")
    return 0 if clean == args.runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
