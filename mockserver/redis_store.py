"""The Redis store backend (``--store redis://HOST:PORT/DB``): one API state shared by several processes.

Workers sharing a port, hosts behind a load balancer or a CI fleet point every ``resplay serve`` at one
Redis and see the same responses, ``previous_response_id`` chains, ``input_items``, deletes and
background jobs (issue 12). Each process still runs its own engine; only the store is shared, and every
read goes to Redis, so a record written by one process is what the next request to another one sees.

Keys live under a namespace (``?prefix=NAME``, default ``resplay``), one group per ``x-resplay-session``
(DECISIONS 2)::

    {prefix}:s:{session}:responses   hash  id -> record (orjson, as the SQLite store writes it)
    {prefix}:s:{session}:status      hash  id -> response status (eviction and the cancel rules, below)
    {prefix}:s:{session}:order       zset  id -> insertion number (oldest first for --max-stored-responses)
    {prefix}:s:{session}:cache       the session's prompt cache (:class:`SharedPromptCache`, one JSON value)
    {prefix}:sessions                set   sessions that hold responses (``count()`` over all)
    {prefix}:seq                     insertion counter
    {prefix}:boots                   processes that opened the namespace (the id component, below)
    {prefix}:secret                  the blob secret the processes share unless ``--secret`` is given
    {prefix}:alive:{generation}      a live process's lease (expires unless renewed; below)
    {prefix}:running                 hash  [session, id] (JSON) -> owner, for every running background job

``POST /_resplay/reset`` deletes one session's keys (``?all=true``: every ``{prefix}:s:*`` key);
nothing outside the namespace is touched, and ``boots`` survives so a running process keeps unique ids.

**Ids.** Seeded id sequences (``--seed``) repeat per session, so two processes with the same seed would
mint the same ids into one store. Each process takes a number from ``{prefix}:boots`` at open
(:attr:`RedisStore.generation`) and the engine mixes it into every session's id seed, as it does for a
reopened SQLite file: the first process on a fresh namespace keeps the ids of a memory-store run, later
ones get their own reproducible sequences.

**Background jobs** run in the process that created them; it puts the record at every visible change,
so pollers on any process see ``queued`` → ``in_progress`` → terminal. A cancel sent to another process
writes the ``cancelled`` response itself; the owner sees it on its next step and stops. One Lua script
does every put and keeps the order of events safe across processes: a finished record never runs again,
only a running record can become ``cancelled``, and ``cancelled`` is final (so a cancel racing the job's
completion has exactly one winner, and both processes then serve it).

**Outages.** Start-up fails with one line when Redis cannot be reached (``resplay serve`` exits 1). At
request time a Redis error answers 503 ``server_error`` (``code: "store_unavailable"``, chosen,
docs/errors.md): a backend outage is a server error, never a 500 from client input.

A process stopped with SIGTERM/SIGINT ends its running jobs ``failed`` (:meth:`RedisStore.close`, the
SQLite store's wording). One killed with SIGKILL cannot, so each process also holds a lease,
``{prefix}:alive:{generation}``, that a daemon thread renews on the wall clock (``?lease=SECONDS``,
default 15; a liveness signal, not API time, so it runs under a virtual clock too). A running record
names its owner; a process that reads another owner's running record after that owner's lease has
expired ends it ``failed`` the same way, so pollers and resumed streams on the survivors see an end.
Nobody has to read it, either: every process sweeps ``{prefix}:running`` (:meth:`RedisStore.sweep`,
every ``?sweep=SECONDS``, default a third of the lease) and ends the jobs of owners whose lease is gone,
so their ``response.failed`` webhooks go out as the real API's would, polled or not.

**Prompt cache.** Each session's cache entries, overflow counters and remembered signatures
(:mod:`.prompt_cache`) are one JSON value that every create reads and writes in a ``WATCH`` transaction,
so a prefix cached through one process is a hit through another (the entries' deadlines are on the
processes' clocks: use the real clock, or advance every process alike).

Only records and the prompt cache are shared: each process keeps its own clocks, queued replies, rules,
journal, reasoning ledger, conversations, files and vector stores (README, "Persistence and limits").
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from .prompt_cache import Outcome, PromptCache
from .store import (
    RUNNING_STATUSES,
    StoredResponse,
    StoreUnavailable,
    fail_lost_job,
    record_from_json,
    record_to_json,
)

__all__ = ["DEFAULT_PREFIX", "RedisStore", "SharedPromptCache", "describe_url"]

DEFAULT_PREFIX = "resplay"
"""Namespace of the keys when the URL has no ``?prefix=``."""

_PREFIX = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_RECENT = 512
"""Records kept with their bytes so an unchanged record is the same object on the next read."""

_T = TypeVar("_T")

DEFAULT_LEASE = 15.0
"""Seconds a process's lease lives without renewal (renewed every third of it)."""

# KEYS: responses, status, order, seq, sessions, running. ARGV: id, status, record, limit (-1: none),
# session, owner ('' when none), the job's field in running. The status rules make cross-process cancels
# race-free (module docstring).
_PUT = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
local new = ARGV[2]
local running = function(s) return s == 'queued' or s == 'in_progress' end
if old then
  local finished = old ~= '' and not running(old)
  if (finished and running(new)) or (old == 'cancelled' and new ~= 'cancelled')
     or (new == 'cancelled' and finished and old ~= 'cancelled') then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], new)
if running(new) and ARGV[6] ~= '' then
  redis.call('HSET', KEYS[6], ARGV[7], ARGV[6])
else
  redis.call('HDEL', KEYS[6], ARGV[7])
end
if not old then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[1])
  redis.call('SADD', KEYS[5], ARGV[5])
end
local limit = tonumber(ARGV[4])
if limit >= 0 then
  local excess = redis.call('HLEN', KEYS[1]) - limit
  if excess > 0 then
    for _, rid in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
      local status = redis.call('HGET', KEYS[2], rid)
      if status ~= 'queued' and status ~= 'in_progress' then
        redis.call('HDEL', KEYS[1], rid)
        redis.call('HDEL', KEYS[2], rid)
        redis.call('ZREM', KEYS[3], rid)
        excess = excess - 1
        if excess <= 0 then break end
      end
    end
  end
end
return 1
"""

# KEYS: responses, status, order, running. ARGV: id, the job's field in running.
_DELETE = """
local gone = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[2])
return gone
"""


def describe_url(url: str) -> str:
    """``redis://host:port/db`` without credentials or query, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    return f"{parts.scheme}://{host}:{port}{parts.path or '/0'}"


class RedisStore:
    """Responses in Redis, partitioned by session like every :class:`~mockserver.store.Store`.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db][?prefix=NAME&socket_timeout=S...]``
            (``rediss://`` for TLS); query options other than ``prefix`` go to redis-py.
        max_per_session: Keep at most this many responses per session, evicting the oldest finished one
            first (see :class:`~mockserver.store.MemoryStore`); ``None``: unbounded.

    Raises:
        StoreUnavailable: Redis cannot be reached (the CLI turns it into a one-line start-up error).
        ValueError: a bad URL or prefix.
    """

    shared = True
    """Several processes may use the same namespace at once."""

    def __init__(self, url: str, *, max_per_session: int | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError(f"unknown store {url!r}: use redis://HOST:PORT/DB")
        query = parse_qsl(parts.query)
        prefix = next((v for k, v in query if k == "prefix"), DEFAULT_PREFIX)
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(f"bad Redis key prefix {prefix!r}: 1-64 of A-Z a-z 0-9 _ . -")
        lease = next((v for k, v in query if k == "lease"), None)
        try:
            self.lease = DEFAULT_LEASE if lease is None else float(lease)
        except ValueError:
            self.lease = -1.0
        if not 0.1 <= self.lease <= 86400:
            raise ValueError(f"bad Redis lease {lease!r}: seconds between 0.1 and 86400")
        sweep = next((v for k, v in query if k == "sweep"), None)
        try:
            every = self.lease / 3 if sweep is None else float(sweep)
        except ValueError:
            every = -1.0
        if not 0.05 <= every <= 86400:
            raise ValueError(f"bad Redis sweep interval {sweep!r}: seconds between 0.05 and 86400")
        self.sweep_every: float | None = every
        """Seconds between two :meth:`sweep` calls of the server (``?sweep=``; a third of the lease)."""
        self.prefix = prefix
        self.where = describe_url(url)
        self.max_per_session = max_per_session
        rest = urlencode([(k, v) for k, v in query if k not in ("prefix", "lease", "sweep")])
        # Short timeouts and one immediate retry: the store is local infrastructure, and a request must
        # not hang the event loop (the engine is synchronous) for long when Redis is gone.
        self._redis: redis.Redis = redis.Redis.from_url(
            urlunsplit(parts._replace(query=rest)),
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 1),
        )
        self._put_script = self._redis.register_script(_PUT)
        self._delete_script = self._redis.register_script(_DELETE)
        self._lock = threading.Lock()
        self._recent: OrderedDict[tuple[str, str], tuple[bytes, StoredResponse]] = OrderedDict()
        self._running: set[tuple[str, str]] = set()
        """Background records this process put while they ran: its jobs, failed by :meth:`close`."""
        with self._guard():
            boots = int(self._redis.incr(f"{prefix}:boots"))
            self._redis.set(f"{prefix}:secret", secrets.token_hex(32), nx=True)
            secret = self._redis.get(f"{prefix}:secret")
        self.generation: int = boots - 1
        """How many processes opened this namespace before: mixed into seeded ids (no collisions)."""
        self.shared_secret: str | None = secret.decode() if isinstance(secret, bytes) else None
        """Blob secret for processes started without ``--secret``, so each opens the others' blobs."""
        self.lost: list[tuple[str, dict[str, Any]]] = []
        """(session, response) of each job this process ended ``failed`` for a lost owner, until the engine
        listens on :attr:`on_lost` (as ``SqliteStore.lost``)."""
        self.on_lost: Callable[[str, dict[str, Any]], None] | None = None
        self._stop = threading.Event()
        with self._guard():
            self._renew()
        self._heart = threading.Thread(target=self._beat, name="resplay-redis-lease", daemon=True)
        self._heart.start()

    # --- Store protocol ------------------------------------------------------------------------------

    def put(self, session: str, record: StoredResponse) -> None:
        status = record.response.get("status")
        if status in RUNNING_STATUSES and "owner" not in record.meta:
            record.meta["owner"] = self.generation  # whose lease keeps this job alive (module docstring)
        raw = record_to_json(record)
        keys = [*self._keys(session), f"{self.prefix}:seq", f"{self.prefix}:sessions", self._running_key]
        limit = -1 if self.max_per_session is None else self.max_per_session
        owner = record.meta.get("owner")
        args = [record.id, status or "", raw, limit, session, "" if owner is None else str(owner)]
        args.append(_job_field(session, record.id))
        accepted = self._call(lambda: self._put_script(keys, args))
        with self._lock:
            if accepted:
                self._remember((session, record.id), raw, record)
                if status in RUNNING_STATUSES:
                    self._running.add((session, record.id))
                else:
                    self._running.discard((session, record.id))
            else:  # the record ended elsewhere (module docstring): the next read fetches that version
                self._recent.pop((session, record.id), None)

    def get(self, session: str, response_id: str) -> StoredResponse | None:
        key = (session, response_id)
        raw = self._call(lambda: self._redis.hget(self._keys(session)[0], response_id))
        if not isinstance(raw, bytes):
            with self._lock:
                self._recent.pop(key, None)
            return None
        with self._lock:
            known = self._recent.get(key)
            if known is not None and known[0] == raw:
                self._recent.move_to_end(key)
                record = known[1]  # unchanged since this process last saw it: the same object
            else:
                record = None
        if record is None:
            record = record_from_json(raw)
            with self._lock:
                self._remember(key, raw, record)
        if self._lost(record):
            lost = record_from_json(raw)  # a copy: whoever holds ``record`` keeps it unchanged
            fail_lost_job(lost)  # its owner died without ending it (SIGKILL): end it for everyone
            self.put(session, lost)
            now = self.get(session, response_id)  # as stored: failed, or a cancel that came first
            if now is not None and now.response.get("status") == "failed":
                if self.on_lost is not None:
                    self.on_lost(session, now.response)  # its response.failed webhook (engine)
                else:
                    self.lost.append((session, now.response))
            return now
        return record

    def delete(self, session: str, response_id: str) -> bool:
        with self._lock:
            self._recent.pop((session, response_id), None)
            self._running.discard((session, response_id))
        keys = [*self._keys(session), self._running_key]
        return bool(
            self._call(lambda: self._delete_script(keys, [response_id, _job_field(session, response_id)]))
        )

    def clear(self, session: str | None = None) -> None:
        with self._lock:
            self._recent.clear()
            self._running = {k for k in self._running if session is not None and k[0] != session}
        if session is not None:
            keys, sessions = [*self._keys(session), self.cache_key(session)], f"{self.prefix}:sessions"

            def forget() -> None:
                jobs = [f for f in self._redis.hkeys(self._running_key) if _field_session(f) == session]
                pipe = self._redis.pipeline()
                pipe.delete(*keys)
                pipe.srem(sessions, session)
                if jobs:
                    pipe.hdel(self._running_key, *jobs)
                pipe.execute()

            self._call(forget)
            return

        def everything() -> None:
            doomed = list(self._redis.scan_iter(match=f"{self.prefix}:s:*", count=500))
            doomed += [f"{self.prefix}:sessions", self._running_key]
            for start in range(0, len(doomed), 500):
                self._redis.unlink(*doomed[start : start + 500])

        self._call(everything)

    def count(self, session: str | None = None) -> int:
        if session is not None:
            return int(self._call(lambda: self._redis.hlen(self._keys(session)[0])))

        def total() -> int:
            names = self._redis.smembers(f"{self.prefix}:sessions")
            pipe = self._redis.pipeline(transaction=False)
            for name in names:
                pipe.hlen(self._keys(name.decode() if isinstance(name, bytes) else str(name))[0])
            return sum(int(n) for n in pipe.execute())

        return self._call(total)

    def close(self) -> None:
        """Fail this process's running background jobs (:meth:`abandon`), give up the lease, then close the
        connections."""
        self._stop.set()
        self._heart.join(timeout=5)
        with suppress(StoreUnavailable):  # Redis is gone too: nothing to tell the other processes
            self.abandon()
            self._call(lambda: self._redis.delete(self._lease_key(self.generation)))
        self._redis.close()

    def _lease_key(self, generation: int) -> str:
        return f"{self.prefix}:alive:{generation}"

    def _renew(self) -> None:
        self._redis.set(self._lease_key(self.generation), "1", px=max(100, int(self.lease * 1000)))

    def _beat(self) -> None:
        """Renew the lease every third of its life until :meth:`close` (a daemon thread: wall clock)."""
        while not self._stop.wait(self.lease / 3):
            with suppress(redis.RedisError):  # an outage: the next beat tries again
                self._renew()

    def _lost(self, record: StoredResponse) -> bool:
        """A running record whose owning process's lease has expired (that process is gone)."""
        owner = record.meta.get("owner")
        if record.response.get("status") not in RUNNING_STATUSES or not isinstance(owner, int):
            return False
        if owner == self.generation:
            return False
        return not self._call(lambda: self._redis.exists(self._lease_key(owner)))

    def abandon(self) -> int:
        """End ``failed`` every background job this process still runs, as the SQLite store does on reopen.

        Called when the server stops (``resplay serve`` on SIGTERM/SIGINT): the other processes keep
        serving, and their pollers and resumed streams must see an end rather than a job that never
        finishes. The put's status rules keep a cancel that came first. Returns how many ended.
        """
        with self._lock:
            running, self._running = self._running, set()
        ended = 0
        for session, response_id in running:
            key = self._keys(session)[0]
            raw = self._call(functools.partial(self._redis.hget, key, response_id))
            if not isinstance(raw, bytes):
                continue
            record = record_from_json(raw)  # a copy: the live job's record is left alone
            if record.response.get("status") not in RUNNING_STATUSES:
                continue
            fail_lost_job(record)
            self.put(session, record)
            ended += 1
        return ended

    def sweep(self) -> int:
        """End ``failed`` the running jobs of every other process whose lease has expired.

        A SIGKILLed process's jobs would otherwise stay running until somebody read them; the server calls
        this every :attr:`sweep_every` seconds, so their ``response.failed`` webhooks go out unprompted
        (through :attr:`on_lost`, as for a read). Each job is ended through :meth:`get`, whose status rules
        keep a cancel or an end that another process wrote first. Returns how many lost jobs were found.
        """
        jobs = self._call(lambda: self._redis.hgetall(self._running_key))
        owners = {int(owner) for owner in jobs.values()} - {self.generation}
        if not owners:
            return 0
        ordered = sorted(owners)

        def alive() -> list[Any]:
            pipe = self._redis.pipeline(transaction=False)
            for owner in ordered:
                pipe.exists(self._lease_key(owner))
            return list(pipe.execute())

        gone = {owner for owner, lives in zip(ordered, self._call(alive), strict=True) if not lives}
        found = 0
        for field, owner in jobs.items():
            if int(owner) not in gone:
                continue
            session, response_id = orjson.loads(field)
            found += 1
            if self.get(session, response_id) is None:  # deleted meanwhile: forget the stale entry
                self._call(functools.partial(self._redis.hdel, self._running_key, field))
        return found

    def prompt_cache(self, session: str) -> SharedPromptCache:
        """The prompt cache of ``session``, kept here for every process (the engine asks at session start)."""
        return SharedPromptCache(self, session)

    def cache_key(self, session: str) -> str:
        """The key of ``session``'s prompt-cache state."""
        return f"{self.prefix}:s:{session}:cache"

    def transact(self, key: str, step: Callable[[bytes | None], tuple[bytes, _T]]) -> _T:
        """Read ``key``, compute its new value and a result, write it unless another process wrote first
        (then start again: ``WATCH``/``MULTI``); returns the result."""

        results: list[_T] = []

        def attempt(pipe: Pipeline) -> None:
            raw = pipe.get(key)
            value, result = step(raw if isinstance(raw, bytes) else None)
            results[:] = [result]  # the last attempt's (a retry starts from the other process's state)
            pipe.multi()
            pipe.set(key, value)

        self._call(lambda: self._redis.transaction(attempt, key))
        return results[0]

    # --- internals -----------------------------------------------------------------------------------

    @property
    def _running_key(self) -> str:
        return f"{self.prefix}:running"

    def _keys(self, session: str) -> list[str]:
        # The suffixes have no ':', so the last one separates any session name unambiguously.
        base = f"{self.prefix}:s:{session}"
        return [f"{base}:responses", f"{base}:status", f"{base}:order"]

    def _remember(self, key: tuple[str, str], raw: bytes, record: StoredResponse) -> None:
        self._recent[key] = (raw, record)
        self._recent.move_to_end(key)
        while len(self._recent) > _RECENT:
            self._recent.popitem(last=False)

    def _call(self, action: Callable[[], _T]) -> _T:
        with self._guard():
            return action()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except redis.RedisError as exc:
            raise StoreUnavailable(self.where, exc) from exc


def _job_field(session: str, response_id: str) -> bytes:
    """A running job's field in ``{prefix}:running``: any session name, unambiguously."""
    return orjson.dumps([session, response_id])


def _field_session(field: bytes | str) -> str | None:
    try:
        value = orjson.loads(field)
    except orjson.JSONDecodeError:
        return None
    return value[0] if isinstance(value, list) and value and isinstance(value[0], str) else None


class SharedPromptCache(PromptCache):
    """A session's :class:`~mockserver.prompt_cache.PromptCache` whose state lives in Redis.

    Every :meth:`account` loads the state, runs the usual accounting and writes the state back in one
    optimistic transaction, so processes sharing the store agree on what is cached (issue 12).
    """

    def __init__(self, store: RedisStore, session: str) -> None:
        super().__init__()
        self._store = store
        self._key = store.cache_key(session)

    def account(self, request: Any, **details: Any) -> Outcome:
        if not self.uses_state(request, model=details["model"], input_tokens=details["input_tokens"]):
            return PromptCache.account(self, request, **details)  # nothing cached is read or written

        def step(raw: bytes | None) -> tuple[bytes, Outcome]:
            self.load_json(orjson.loads(raw) if raw else None)
            outcome = PromptCache.account(self, request, **details)
            return orjson.dumps(self.to_json()), outcome

        return self._store.transact(self._key, step)
