"""The scaled topology for real: HAProxy, 2 gateways, 2 Rasa servers (PostgreSQL tracker store,
Redis lock store), 2 action servers, 2 backends (PostgreSQL, outbox leases), Redis fan-out.

Needs PostgreSQL and Redis on 127.0.0.1 (CI has both) and Debian's haproxy (installed with
apt-get when missing and running as root); the tests skip, saying which, only when one of them
cannot be had. One stack for the module (about two minutes to start on two cores); the
replica-killing test runs last.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest
import socketio

from harness import scaled
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

JAN = "jan.kowalski@majafirma.pl"
START_TIMEOUT = 480
# 20 concurrent messages of one conversation are answered one after another (the lock store):
# on a loaded 2-core host that takes a while.
TURN_TIMEOUT = 150
FRUITS = ("jabłko", "gruszka", "śliwka", "wiśnia", "malina", "porzeczka", "agrest", "jeżyna",
          "borówka", "truskawka", "poziomka", "morela", "brzoskwinia", "czereśnia", "pigwa",
          "cytryna", "pomarańcza", "mandarynka", "arbuz", "melon")
RAISED_LIMITS = {
    "GATEWAY_SESSION_MESSAGES_PER_MINUTE": "1000",
    "GATEWAY_ADDRESS_MESSAGES_PER_MINUTE": "1000",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    try:
        running, haproxy = scaled.prepare(tmp_path_factory.mktemp("scaled"),
                                          extra_env=RAISED_LIMITS)
    except scaled.ScaledUnavailable as error:
        pytest.skip(f"scaled topology unavailable: {error}")
    running.haproxy = haproxy
    try:
        scaled.start(running, haproxy)
        scaled.wait_healthy(running, START_TIMEOUT)
        scaled.wait_balanced(running)
        yield running
    finally:
        scaled.stop_all(running)
        scaled.drop_databases(running)


def texts(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return "\n".join(message.get("text") or "" for message in response.json()["messages"])


async def new_conversation(client: httpx.AsyncClient, base: str) -> str:
    response = await client.post(f"{base}/api/v1/conversations")
    assert response.status_code == 201, response.text
    return response.json()["conversation_id"]


async def say(client, base: str, conversation: str, text: str, cid: str | None = None):
    body = {"text": text} if cid is None else {"text": text, "client_message_id": cid}
    return await client.post(f"{base}/api/v1/conversations/{conversation}/messages", json=body)


async def tracker_events(client, stack, conversation: str) -> list[dict]:
    response = await client.get(
        f"{stack.url('rasa')}/conversations/{conversation}/tracker",
        params={"token": stack.rasa_token},
    )
    assert response.status_code == 200, response.text
    return response.json()["events"]


def user_texts(events: list[dict]) -> list[str]:
    return [event.get("text") for event in events if event["event"] == "user"]


def assert_turns_serialised(events: list[dict]) -> None:
    """Every user message is followed by the assistant's whole turn, ended by action_listen,
    before the next user message: two turns never interleave."""
    listening = True
    for event in events:
        if event["event"] == "user":
            assert listening, "a user message arrived inside another message's turn"
            listening = False
        elif event["event"] == "action" and event.get("name") == "action_listen":
            listening = True
    assert listening


async def mails_to(client, stack, address: str) -> list[dict]:
    response = await client.get(f"{stack.url('mailsink')}/api/messages", params={"to": address})
    return response.json()["messages"]


def requests_per_server(stack, service: str) -> dict[str, int]:
    servers = stack.haproxy_servers()
    return {name: int(servers[f"{service}/{name}"]["stot"]) for name in stack.replicas(service)}


async def test_turns_alternating_between_gateways_and_rasa_replicas_keep_order_and_context(stack):
    gateway1, gateway2 = stack.url("gateway1"), stack.url("gateway2")
    rasa_before = requests_per_server(stack, "rasa")
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as client:
        await client.delete(f"{stack.url('mailsink')}/api/messages")
        conversation = await new_conversation(client, gateway1)
        asks = texts(await say(client, gateway1, conversation, "nie pamiętam hasła"))
        assert "e-mail" in asks.lower()
        # The form's answer, on the other gateway: it must know what was asked.
        sent = texts(await say(client, gateway2, conversation, JAN))
        assert "link" in sent.lower()
        thanks = texts(await say(client, gateway1, conversation, "dziękuję"))
        assert thanks

        mails = await eventually(lambda: mails_to(client, stack, JAN), timeout=60)
        assert len(mails) == 1 and mails[0]["subject"].startswith("Ustawienie nowego hasła")

        # Both gateways show the same transcript, in order.
        for gateway in (gateway1, gateway2):
            response = await client.get(f"{gateway}/api/v1/conversations/{conversation}/messages")
            visitor = [m["text"] for m in response.json()["messages"] if m["author"] == "visitor"]
            assert visitor == ["nie pamiętam hasła", JAN, "dziękuję"]
        events = await tracker_events(client, stack, conversation)
        assert user_texts(events) == ["nie pamiętam hasła", JAN, "dziękuję"]
        assert_turns_serialised(events)

        # Straight to the replicas, alternating: each turn continues on the other replica.
        direct = f"rasa-direct-{uuid.uuid4().hex}"
        replies = []
        for replica, text in zip(("rasa1", "rasa2", "rasa1"),
                                 ("nie pamiętam hasła", "ktos.obcy@nieistnieje.pl", "dziękuję")):
            response = await client.post(
                f"{stack.url(replica)}/webhooks/rest/webhook",
                json={"sender": direct, "message": text},
            )
            assert response.status_code == 200, response.text
            replies.append(" ".join(m.get("text", "") for m in response.json()))
        assert "e-mail" in replies[0].lower() and "link" in replies[1].lower()
        assert user_texts(await tracker_events(client, stack, direct)) == [
            "nie pamiętam hasła", "ktos.obcy@nieistnieje.pl", "dziękuję"
        ]
    rasa_after = requests_per_server(stack, "rasa")
    assert all(rasa_after[name] > rasa_before[name] for name in rasa_after), (
        rasa_before, rasa_after)


async def test_a_tab_on_one_gateway_sees_what_another_gateway_stored(stack):
    """Redis fan-out: a widget (websocket through HAProxy, pinned to gateway2 here) receives the
    visitor's message and the bot's answer that gateway1 stored."""
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as client:
        conversation = await new_conversation(client, stack.url("gateway1"))
        widget = socketio.AsyncClient(reconnection=False)
        seen: asyncio.Queue = asyncio.Queue()
        confirmed = asyncio.Event()
        widget.on("session_confirm", lambda _session: confirmed.set())
        widget.on("pomocnik_message", seen.put)
        await widget.connect(stack.url("gateway2"), transports=["websocket"], wait_timeout=20)
        try:
            await widget.emit("session_request", {"session_id": conversation})
            await asyncio.wait_for(confirmed.wait(), 20)
            answer = texts(await say(client, stack.url("gateway1"), conversation,
                                     "nie pamiętam hasła"))
            authors = []
            while "bot" not in authors:
                message = await asyncio.wait_for(seen.get(), 30)
                authors.append(message["author"])
                if message["author"] == "bot":
                    assert message["text"] in answer
            assert authors[0] == "visitor"
        finally:
            await widget.disconnect()

        # Through HAProxy (the websocket upgrade passes the balancer).
        front = socketio.AsyncClient(reconnection=False)
        through = asyncio.Event()
        front.on("session_confirm", lambda _session: through.set())
        await front.connect(stack.url("gateway"), transports=["websocket"], wait_timeout=20)
        try:
            await front.emit("session_request", {"session_id": conversation})
            await asyncio.wait_for(through.wait(), 20)
        finally:
            await front.disconnect()


@pytest.mark.xfail(
    strict=False,
    reason="open defect: in both full runs all 20 were answered once over HTTP but 1-2 user "
    "messages are in the tracker twice, with the same gateway turn marker and UserUttered "
    "timestamps ~20 ms apart: the same POST reached Rasa twice (suspect: HAProxy resending it "
    "on a reused server connection; the gateway does not retry). Not fixed yet",
)
async def test_twenty_concurrent_messages_of_one_conversation_are_serialised(stack):
    gateways = [stack.url("gateway1"), stack.url("gateway2")]
    # Words, not numbers: stored copies mask digits (bot/redaction.py).
    sent = [f"dziękuję, {word}" for word in FRUITS]
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as client:
        conversation = await new_conversation(client, gateways[0])
        responses = await asyncio.gather(*(
            say(client, gateways[number % 2], conversation, text, cid=f"concurrent-{number:02d}")
            for number, text in enumerate(sent)
        ))
        for response in responses:
            assert response.status_code == 200, response.text  # each one answered
        events = await tracker_events(client, stack, conversation)
        received = user_texts(events)
        doubled = [
            (event.get("text"), (event.get("metadata") or {}).get("pomocnik_turn"),
             event.get("timestamp"))
            for event in events if event["event"] == "user"
            and Counter(received)[event.get("text")] > 1
        ]
        assert Counter(received) == Counter(sent), doubled  # none lost, none twice
        assert_turns_serialised(events)
        timestamps = [event["timestamp"] for event in events]
        assert len(timestamps) == len(set(timestamps))  # no event stored twice
        transcript = (
            await client.get(f"{gateways[1]}/api/v1/conversations/{conversation}/messages")
        ).json()["messages"]
        visitor = [m["text"] for m in transcript if m["author"] == "visitor"]
        assert Counter(visitor) == Counter(sent)


async def test_killing_a_rasa_replica_a_gateway_and_a_backend_loses_no_accepted_message(stack):
    front = stack.url("gateway")
    async with httpx.AsyncClient(timeout=TURN_TIMEOUT) as client:
        await client.delete(f"{stack.url('mailsink')}/api/messages")
        conversation = await new_conversation(client, front)
        asks = texts(await say(client, front, conversation, "nie pamiętam hasła", cid="killtest-1"))
        assert "e-mail" in asks.lower()

        for name in ("rasa1", "gateway1", "backend1"):
            stack.stop(name)

        # HAProxy has not noticed yet: connections to the dead replicas are refused and
        # redispatched to the live ones. The form continues on rasa2 / gateway2 / backend2.
        sent = texts(await say(client, front, conversation, JAN, cid="killtest-2"))
        assert "link" in sent.lower()
        thanks = texts(await say(client, front, conversation, "dziękuję", cid="killtest-3"))
        assert thanks
        mails = await eventually(lambda: mails_to(client, stack, JAN), timeout=60)
        assert len(mails) == 1

        # A visitor whose client retries (same client_message_id) is not answered twice.
        again = await say(client, front, conversation, "dziękuję", cid="killtest-3")
        assert again.status_code == 200
        events = await tracker_events(client, stack, conversation)
        assert user_texts(events) == ["nie pamiętam hasła", JAN, "dziękuję"]
        assert_turns_serialised(events)
        transcript = (
            await client.get(f"{front}/api/v1/conversations/{conversation}/messages")
        ).json()["messages"]
        assert [m["text"] for m in transcript if m["author"] == "visitor"] == [
            "nie pamiętam hasła", JAN, "dziękuję"
        ]

    # HAProxy's checks mark the killed replicas down; the survivors stay up.
    def statuses():
        return {name: row["status"] for name, row in stack.haproxy_servers().items()}

    async def killed_are_down():
        current = statuses()
        return current if all(current[f"{s}/{s}1"] != "UP" for s in
                              ("rasa", "gateway", "backend")) else None

    current = await eventually(killed_are_down, timeout=30)
    assert all(current[f"{s}/{s}2"] == "UP" for s in ("rasa", "gateway", "backend", "actions"))
