"""Jobs in Redis, shared by every worker and client of a fleet.

Each job is one JSON document under ``framefleet:job:<id>``; per-tenant and global sorted sets index
them by creation time; ``framefleet:idem:<tenant>:<key>`` maps idempotency keys to job ids. Status
changes use WATCH/MULTI, so two workers racing on a redelivered message cannot both win.

Every write also keeps, in the same transaction, what the fleet's periodic work reads, so none of it
scans the jobs: ``framefleet:queued`` (queued jobs by creation time: expiry), ``framefleet:leases``
(processing jobs by lease end: takeover sweeps) and the hashes ``framefleet:usage`` and
``framefleet:usage:<tenant>`` (counters moved on each transition: ``usage``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis

from framefleet.queue.jobs import Job, JobStore, deltas

NAMESPACE = "framefleet"
#: Finished jobs are kept this long (seconds), then Redis drops them.
RETENTION = 30 * 86400


#: Atomically: the ids in the sorted set KEYS[1] with a score below ARGV[1] (at most ARGV[3]), each moved
#: to ARGV[2], so one caller of the fleet gets each, and none again until ARGV[2]. Two uses: lapsed leases
#: (the leases index) and lost releases (released jobs still queued, re-stamped when returned).
_TAKE_BELOW = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id) end
return ids
"""


#: Fair shares (``worker/dispatcher.py``): up to ARGV[3] held jobs of queue ARGV[2], taken from the
#: tenants' lines in turns (``turns``: tenant → the turn it was last served, 0 for never), each from the
#: least recently served tenant, skipping tenants at their cap ARGV[4] of jobs processing or released
#: (0: no cap) and ids that are no longer queued (canceled, expired while they waited). Each taken job is
#: marked released. Atomic, so every worker of the fleet may run it. Keys are built in the script: a
#: standalone Redis, not a cluster.
_RELEASE = """
local ns, queue = ARGV[1], ARGV[2]
local room, cap, now = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local turns = ns .. ':turns:' .. queue
local taken = {}
while #taken < room do
  -- one pick: the least recently served tenant that may run one more job, read 64 tenants at a time
  -- (a tick costs what it takes, not what every waiting tenant costs); served tenants go to the back
  local picked, offset, emptied = false, 0, {}
  while not picked do
    local tenants = redis.call('ZRANGE', turns, offset, offset + 63)
    if #tenants == 0 then break end
    for _, tenant in ipairs(tenants) do
      local busy = 0
      if cap > 0 then
        busy = tonumber(redis.call('HGET', ns .. ':usage:' .. tenant, 'status:processing') or '0')
               + redis.call('ZCARD', ns .. ':released:' .. tenant)
      end
      if cap <= 0 or busy < cap then
        local line = ns .. ':held:' .. queue .. ':' .. tenant
        local id = redis.call('LPOP', line)
        while id do
          redis.call('LPOP', ns .. ':backlog:' .. queue)
          local raw = redis.call('GET', ns .. ':job:' .. id)
          if raw and string.find(raw, '"status": "queued"', 1, true) then break end
          id = redis.call('LPOP', line)
        end
        if redis.call('LLEN', line) == 0 then table.insert(emptied, tenant) end
        if id then
          table.insert(taken, id)
          redis.call('ZADD', ns .. ':released:' .. tenant, now, id)
          redis.call('ZADD', ns .. ':released', now, id)
          redis.call('ZADD', turns, redis.call('INCR', ns .. ':turn'), tenant)
          picked = true
          break
        end
      end
    end
    offset = offset + 64
  end
  for _, tenant in ipairs(emptied) do redis.call('ZREM', turns, tenant) end
  if not picked then break end
end
return taken
"""


class RedisJobStore(JobStore):
    unavailable = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)

    def __init__(self, client: redis.Redis, *, namespace: str = NAMESPACE) -> None:
        self.r = client
        self.ns = namespace
        # Registered once and run by EVALSHA (``_RELEASE`` runs every 0.1 s per worker): the script's body
        # is sent again only when Redis lost it (a restart), which the Script object handles itself.
        self._release = client.register_script(_RELEASE)
        self._take_below = client.register_script(_TAKE_BELOW)

    @classmethod
    def from_url(cls, url: str) -> RedisJobStore:
        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30,
                                        retry_on_timeout=True, decode_responses=True))

    def _key(self, job_id: str) -> str:
        return f"{self.ns}:job:{job_id}"

    def _read(self, raw: bytes | str | None) -> Job | None:
        return Job.load(json.loads(raw)) if raw else None

    def create(self, job: Job, *, hold: bool = False) -> tuple[Job, bool]:
        idem = f"{self.ns}:idem:{job.tenant}:{job.idempotency_key}" if job.idempotency_key else None
        while True:
            with self.r.pipeline() as pipe:
                try:
                    if idem:
                        pipe.watch(idem)  # type: ignore[no-untyped-call]
                        existing_id = pipe.get(idem)
                        if existing_id:
                            existing = self._read(pipe.get(self._key(str(existing_id))))
                            if existing is not None and existing.status not in ("failed", "canceled"):
                                pipe.unwatch()
                                return existing, False
                    pipe.multi()
                    self._write_new(pipe, job)
                    if hold:  # in the same transaction: a job is never stored without its place in line
                        pipe.rpush(f"{self.ns}:held:{job.queue}:{job.tenant}", job.id)
                        pipe.rpush(f"{self.ns}:backlog:{job.queue}", 1)
                        pipe.zadd(f"{self.ns}:turns:{job.queue}", {job.tenant: 0}, nx=True)
                    pipe.execute()
                    return job, True
                except redis.WatchError:
                    continue

    def _write_new(self, pipe: Any, job: Job) -> None:
        """A new job's document, its place in the by-time indexes, its idempotency key and its share of
        the indexes and counters (:meth:`_index`): what :meth:`create` and :meth:`load` both write."""
        key = self._key(job.id)
        if job.terminal:
            pipe.set(key, json.dumps(job.dump()), ex=RETENTION)
        else:
            pipe.set(key, json.dumps(job.dump()))
        pipe.zadd(f"{self.ns}:jobs", {job.id: job.created_at})
        pipe.zadd(f"{self.ns}:jobs:{job.tenant}", {job.id: job.created_at})
        self._index(pipe, None, job)
        if job.idempotency_key:
            pipe.set(f"{self.ns}:idem:{job.tenant}:{job.idempotency_key}", job.id, ex=RETENTION)

    def load(self, jobs: Iterable[Job], *, batch: int = 5_000) -> int:
        """Write many jobs that are not in the store yet, in any status, with exactly the indexes and
        counters :meth:`create` and the transitions after it would have left; returns how many.

        For imports and the state benchmark (a million jobs in about a minute): pipelined, not one
        transaction per job, and no idempotency check, so never for jobs callers submit. Counter
        increments are summed per batch, so a batch adds one HINCRBYFLOAT per counter, not one per job."""
        count = 0
        with self.r.pipeline(transaction=False) as pipe:
            sums = _Summed(pipe)
            for job in jobs:
                self._write_new(sums, job)
                count += 1
                if count % batch == 0:
                    sums.flush()
                    pipe.execute()
            sums.flush()
            pipe.execute()
        return count

    def get(self, job_id: str, *, tenant: str | None = None) -> Job | None:
        job = self._read(self.r.get(self._key(job_id)))
        if job is None or (tenant is not None and job.tenant != tenant):
            return None
        return job

    def modify(self, job_id: str, change: Callable[[Job], bool]) -> Job | None:
        key = self._key(job_id)
        while True:
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    raw = pipe.get(key)
                    job, before = self._read(raw), self._read(raw)
                    if job is None or not change(job):
                        pipe.unwatch()
                        return None
                    pipe.multi()
                    self._index(pipe, before, job)
                    if job.terminal:
                        pipe.set(key, json.dumps(job.dump()), ex=RETENTION)
                    else:
                        pipe.set(key, json.dumps(job.dump()))
                    pipe.execute()
                    return job
                except redis.WatchError:
                    continue

    def _index(self, pipe: Any, before: Job | None, job: Job) -> None:
        """The indexes and counters of one write, queued in the write's transaction."""
        if job.status == "queued":
            pipe.zadd(f"{self.ns}:queued", {job.id: job.created_at})
        elif before is None or before.status == "queued":
            pipe.zrem(f"{self.ns}:queued", job.id)
            if before is not None:  # started or ended: no longer released-and-waiting
                pipe.zrem(f"{self.ns}:released", job.id)
                pipe.zrem(f"{self.ns}:released:{job.tenant}", job.id)
        if job.status == "processing":
            if before is None or before.lease_until != job.lease_until or before.status != job.status:
                pipe.zadd(f"{self.ns}:leases", {job.id: job.lease_until})
        elif before is not None and before.status == "processing":
            pipe.zrem(f"{self.ns}:leases", job.id)
        for counter, amount in deltas(before, job).items():
            pipe.hincrbyfloat(f"{self.ns}:usage", counter, amount)
            pipe.hincrbyfloat(f"{self.ns}:usage:{job.tenant}", counter, amount)

    def counters(self, *, tenant: str | None = None) -> dict[str, float]:
        key = f"{self.ns}:usage:{tenant}" if tenant is not None else f"{self.ns}:usage"
        return {str(k): float(v) for k, v in self.r.hgetall(key).items()}

    def queued_before(self, cutoff: float, *, limit: int) -> list[str]:
        return [str(i) for i in self.r.zrangebyscore(f"{self.ns}:queued", "-inf", f"({cutoff}", start=0, num=limit)]

    def release(self, queue: str, *, room: int, cap: int) -> list[str]:
        taken = self._release(args=[self.ns, queue, room, cap, time.time()])
        return [str(i) for i in taken or []]

    def held(self, queue: str) -> int:
        return int(self.r.llen(f"{self.ns}:backlog:{queue}"))

    def stale_releases(self, before: float, *, limit: int) -> list[str]:
        found = self._take_below(keys=[f"{self.ns}:released"], args=[before, time.time(), limit])
        return [str(i) for i in found or []]

    def lapsed(self, now: float, *, snooze: float, limit: int) -> list[str]:
        found = self._take_below(keys=[f"{self.ns}:leases"], args=[now, now + snooze, limit])
        return [str(i) for i in found or []]

    def recent(self, *, tenant: str | None = None, limit: int = 100) -> list[Job]:
        index = f"{self.ns}:jobs:{tenant}" if tenant is not None else f"{self.ns}:jobs"
        ids = [str(i) for i in self.r.zrevrange(index, 0, limit - 1)]
        jobs = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for job_id, raw in zip(chunk, self.r.mget([self._key(i) for i in chunk]), strict=True):
                job = self._read(raw)
                if job is None:  # expired by retention: drop it from the indexes too
                    self.r.zrem(index, job_id)
                    continue
                jobs.append(job)
        return jobs

    def ping(self) -> None:
        self.r.ping()


class _Summed:
    """A pipeline that sums ``hincrbyfloat`` calls until :meth:`flush` and passes everything else on: the
    same :meth:`RedisJobStore._index` code fills counters for a bulk load at one write per counter."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe
        self._sums: dict[tuple[str, str], float] = {}

    def hincrbyfloat(self, key: str, counter: str, amount: float) -> None:
        self._sums[key, counter] = self._sums.get((key, counter), 0.0) + amount

    def flush(self) -> None:
        for (key, counter), amount in self._sums.items():
            if amount:
                self._pipe.hincrbyfloat(key, counter, amount)
        self._sums.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)
