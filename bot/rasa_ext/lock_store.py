"""A Redis lock store that serialises a conversation's messages across Rasa replicas.

Rasa 3.6's own ``RedisLockStore`` is not safe between replicas: issuing a ticket reads the
conversation's lock, adds a ticket and writes the whole lock back, so two replicas issuing at
the same moment overwrite each other (two messages get the same ticket and run together, or a
ticket is lost and its message waits until every other ticket expires). Rasa's fix
(``ConcurrentRedisLockStore``, rasa#11256) was reverted from the open-source edition.

Here every step is one atomic Lua script on Redis:

- issue: ``INCR`` the conversation's ticket counter, add the ticket to a sorted set (score =
  ticket number) with its expiry;
- turn: drop expired tickets at the head of the queue; the message whose ticket is first runs;
- release: remove the ticket (and the queue when it is empty).

Tickets stay alive while their owner is: a waiting message refreshes its ticket on each poll,
the running one every ``heartbeat`` seconds, so a replica that dies (killed, host lost) blocks
the conversation for at most ``ticket_seconds`` instead of Rasa's ``TICKET_LOCK_LIFETIME``.
Expiry uses Redis's clock (``TIME``), never the replicas' clocks. Messages run in the order
their tickets were issued (first come, first served).

endpoints.yml::

    lock_store:
      type: bot.rasa_ext.lock_store.AtomicRedisLockStore
      url: 127.0.0.1          # Redis host
      port: 6379
      db: 1
      key_prefix: pomocnik    # alphanumeric
      # password: …, use_ssl: false, ticket_seconds: 15, poll_seconds: 0.05
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, AsyncGenerator, Optional, Text

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

DEFAULT_TICKET_SECONDS = 15.0
DEFAULT_POLL_SECONDS = 0.05
DEFAULT_PREFIX = "pomocnik"

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: counter, queue, expiries; ARGV: ticket ms, key ms -> the new ticket number
ISSUE = _NOW + """
local n = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], n, n)
redis.call('HSET', KEYS[3], n, now + tonumber(ARGV[1]))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2])) end
return n
"""

# KEYS: queue, expiries; ARGV: ticket, ticket ms, key ms
# -> 1 the ticket's turn, 0 wait, -1 the ticket is gone (expired)
TURN = _NOW + """
local mine = ARGV[1]
if not redis.call('ZSCORE', KEYS[1], mine) then return -1 end
redis.call('HSET', KEYS[2], mine, now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then return -1 end
  if head[1] == mine then return 1 end
  local expiry = tonumber(redis.call('HGET', KEYS[2], head[1]) or '0')
  if expiry >= now then return 0 end
  redis.call('ZREM', KEYS[1], head[1])
  redis.call('HDEL', KEYS[2], head[1])
end
"""

# KEYS: queue, expiries; ARGV: ticket
RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
end
return 1
"""


class AtomicRedisLockStore(LockStore):
    """Ticket locks in Redis, each operation atomic (see the module docstring)."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        *,
        host: Optional[Text] = None,
        port: Any = 6379,
        db: Any = 1,
        username: Optional[Text] = None,
        password: Optional[Text] = None,
        use_ssl: Any = False,
        key_prefix: Optional[Text] = None,
        ticket_seconds: Any = DEFAULT_TICKET_SECONDS,
        poll_seconds: Any = DEFAULT_POLL_SECONDS,
        socket_timeout: Any = 10,
    ) -> None:
        import redis

        if endpoint_config is not None:
            options = dict(endpoint_config.kwargs)
            host = endpoint_config.url or host
            port = options.get("port", port)
            db = options.get("db", db)
            username = options.get("username", username)
            password = options.get("password", password)
            use_ssl = options.get("use_ssl", use_ssl)
            key_prefix = options.get("key_prefix", key_prefix)
            ticket_seconds = options.get("ticket_seconds", ticket_seconds)
            poll_seconds = options.get("poll_seconds", poll_seconds)
            socket_timeout = options.get("socket_timeout", socket_timeout)
        self.red = redis.StrictRedis(
            host=host or "localhost",
            port=int(port),
            db=int(db),
            username=username,
            password=password,
            ssl=str(use_ssl).lower() in ("1", "true", "yes"),
            socket_timeout=float(socket_timeout),
        )
        prefix = str(key_prefix) if key_prefix and str(key_prefix).isalnum() else DEFAULT_PREFIX
        if key_prefix and prefix != key_prefix:
            logger.warning("lock store: key_prefix must be alphanumeric; using %r", prefix)
        self.key_prefix = f"{prefix}:conversationlock:"
        self.ticket_ms = int(float(ticket_seconds) * 1000)
        self.poll_seconds = float(poll_seconds)
        self.heartbeat_seconds = max(self.ticket_ms / 3000, self.poll_seconds)
        # Keys outlive a quiet conversation long enough to keep the ticket counter monotonic
        # while any ticket could still be alive.
        self.key_ms = self.ticket_ms * 4 + 60_000
        self._issue = self.red.register_script(ISSUE)
        self._turn = self.red.register_script(TURN)
        self._release = self.red.register_script(RELEASE)
        super().__init__()

    def _keys(self, conversation_id: Text) -> tuple[str, str, str]:
        base = self.key_prefix + conversation_id
        return f"{base}:counter", f"{base}:queue", f"{base}:expiry"

    # --- the ticket lock ---------------------------------------------------------------------

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = 0) -> int:
        counter, queue, expiry = self._keys(conversation_id)
        return int(self._issue(keys=[counter, queue, expiry], args=[self.ticket_ms, self.key_ms]))

    def _state(self, conversation_id: Text, ticket: int) -> int:
        _, queue, expiry = self._keys(conversation_id)
        return int(self._turn(keys=[queue, expiry], args=[ticket, self.ticket_ms, self.key_ms]))

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        _, queue, expiry = self._keys(conversation_id)
        self._release(keys=[queue, expiry], args=[ticket_number])

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    @contextlib.asynccontextmanager
    async def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = 0,
        wait_time_in_seconds: float = 0,
    ) -> AsyncGenerator[TicketLock, None]:
        """Wait for this message's turn in the conversation, hold it while the body runs.

        ``lock_lifetime`` and ``wait_time_in_seconds`` (Rasa's arguments) are not used: tickets
        live while their owner does (``ticket_seconds``), waiters poll every ``poll_seconds``.
        """
        ticket = self.issue_ticket(conversation_id)
        heartbeat: Optional[asyncio.Task] = None
        try:
            while True:
                state = self._state(conversation_id, ticket)
                if state == 1:
                    break
                if state < 0:
                    raise LockError(
                        f"Could not acquire lock for conversation_id '{conversation_id}': "
                        "its ticket expired while waiting"
                    )
                await asyncio.sleep(self.poll_seconds)
            heartbeat = asyncio.ensure_future(self._keep_alive(conversation_id, ticket))
            yield TicketLock(conversation_id)
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await heartbeat
            self.finish_serving(conversation_id, ticket)

    async def _keep_alive(self, conversation_id: Text, ticket: int) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                if self._state(conversation_id, ticket) < 0:
                    logger.warning("lock store: a running turn's ticket expired (conversation "
                                   "lock lost; the event loop was blocked too long?)")
                    return
            except Exception as exc:  # Redis unavailable: the turn goes on; expiry decides
                logger.warning("lock store: heartbeat failed (%s)", type(exc).__name__)

    # --- LockStore's storage interface (Rasa's own callers only use lock()) -----------------

    def get_lock(self, conversation_id: Text) -> Optional[TicketLock]:
        _, queue, _ = self._keys(conversation_id)
        return TicketLock(conversation_id) if self.red.exists(queue) else None

    def delete_lock(self, conversation_id: Text) -> None:
        self.red.delete(*self._keys(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        """Tickets live in Redis one by one; a whole lock is never written back."""

    def is_someone_waiting(self, conversation_id: Text) -> bool:
        _, queue, _ = self._keys(conversation_id)
        return int(self.red.zcard(queue)) > 0
