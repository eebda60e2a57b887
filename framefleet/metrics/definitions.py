"""The metrics of SPEC §6, defined once. Base units, ``_total`` counters, buckets from seconds to an hour."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600)
SPEED_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20)

JOBS = Counter("framefleet_jobs", "Jobs that reached a terminal status.", ["type", "status"])
FAILURES = Counter("framefleet_job_failures", "Failed jobs by error code.", ["type", "code"])
IN_PROGRESS = Gauge("framefleet_jobs_in_progress", "Jobs running now.", ["type"], multiprocess_mode="livesum")
STAGE_SECONDS = Histogram("framefleet_stage_duration_seconds", "Seconds spent per stage of a job.",
                          ["stage", "encoder"], buckets=DURATION_BUCKETS)
QUEUE_WAIT = Histogram("framefleet_queue_wait_seconds", "Seconds from enqueue to start.", ["queue"],
                       buckets=DURATION_BUCKETS)
SPEED = Histogram("framefleet_render_speed_ratio", "Output seconds rendered per wall second.", ["encoder"],
                  buckets=SPEED_BUCKETS)
CHUNKS = Counter("framefleet_chunks", "Chunks of split renders by outcome (completed, failed, canceled, "
                 "retried).", ["status"])
WEBHOOKS = Counter("framefleet_webhook_deliveries", "Webhook delivery attempts by outcome.", ["outcome"])
LAST_SUCCESS = Gauge("framefleet_last_success_timestamp_seconds", "Unix time of the last completed job.",
                     multiprocess_mode="max")
