"""The fleet's policy numbers, in one place: how long a lease lasts, how often work is retried, how many
worker deaths a job may cause. Settings an operator tunes live in :mod:`framefleet.config`; these are the
numbers the design rests on, changed with the code that relies on them.

One retry budget: a job whose work raises a transient error (a storage outage, a provider's 5xx, a
dropped download) is retried by Dramatiq ``JOB_RETRIES`` times with exponential backoff from
``JOB_MIN_BACKOFF_MS`` to ``JOB_MAX_BACKOFF_MS`` (about two minutes of patience in all: longer than the
storage outages a fleet should ride out), then fails with that error's own code and message. Only a
worker's death (its lease lapsed while it held the job) counts towards ``MAX_DEATHS``, after which the
job is abandoned.
"""

from __future__ import annotations

#: A running job refreshes its lease every third of this; a job whose lease lapsed is taken over.
LEASE_SECONDS = 30.0
#: A job whose workers died this many times while running it is abandoned (it is likely what kills them).
MAX_DEATHS = 3
#: Transient failures are retried this many times, backing off exponentially between these bounds.
JOB_RETRIES = 6
JOB_MIN_BACKOFF_MS = 2_000
JOB_MAX_BACKOFF_MS = 60_000
#: Webhook deliveries are retried this many times (the backoff is ``FRAMEFLEET_WEBHOOK_MIN_BACKOFF_MS``
#: doubling up to ``WEBHOOK_MAX_BACKOFF_MS``).
WEBHOOK_RETRIES = 8
WEBHOOK_MAX_BACKOFF_MS = 6 * 3600 * 1000
#: Every worker looks for lapsed leases this often and sends those jobs to their queue again, so a
#: takeover never depends on a delayed message surviving a broker reconnect.
SWEEP_INTERVAL = 5.0
#: Queued jobs past their time to live are expired this often.
EXPIRY_INTERVAL = 60.0
#: A job's terminal state is written again and again (Redis restarting) for at most this long.
END_WRITE_PATIENCE = 300.0
#: Every worker process releases held jobs (fair shares between tenants) this often.
DISPATCH_INTERVAL = 0.1
#: A job released to its queue but not started after this long (its message was lost with a worker
#: that died between release and send) is sent again by the lease sweep.
RELEASE_GRACE = 300.0
