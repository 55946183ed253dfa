"""Signed, stateless conversation ids."""

from __future__ import annotations

import re

from bot.gateway.conversations import SignedConversations, log_prefix

SECRET = "unit-test-secret-0123456789abcdefghij"
ID_FORMAT = re.compile(r"[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{22}")


def test_new_id_has_token_dot_signature_format():
    conversation_id = SignedConversations(SECRET).new_id()
    assert ID_FORMAT.fullmatch(conversation_id), conversation_id


def test_ids_are_unique():
    ids = SignedConversations(SECRET)
    assert len({ids.new_id() for _ in range(500)}) == 500


async def test_own_ids_are_accepted_by_any_instance_with_the_same_secret():
    conversation_id = await SignedConversations(SECRET).start()
    # A second gateway process behind the load balancer knows nothing but the secret.
    assert await SignedConversations(SECRET).exists(conversation_id)


def test_ids_signed_with_another_secret_are_rejected():
    foreign = SignedConversations("another-secret-0123456789abcdefghij").new_id()
    assert not SignedConversations(SECRET).is_valid(foreign)


def test_tampered_ids_are_rejected():
    ids = SignedConversations(SECRET)
    token, mac = ids.new_id().split(".")
    other_token = ("A" if token[0] != "A" else "B") + token[1:]
    other_mac = ("A" if mac[0] != "A" else "B") + mac[1:]

    assert not ids.is_valid(f"{other_token}.{mac}")
    assert not ids.is_valid(f"{token}.{other_mac}")


def test_malformed_ids_are_rejected():
    ids = SignedConversations(SECRET)
    valid = ids.new_id()
    candidates = ["", "abc", valid + "\n", valid + "x", valid.replace(".", ""), f"{valid}.x"]
    for candidate in [*candidates, 42, None]:
        assert not ids.is_valid(candidate), candidate


def test_log_prefix_does_not_reveal_the_id():
    conversation_id = SignedConversations(SECRET).new_id()
    assert log_prefix(conversation_id) == conversation_id[:6]
    assert log_prefix(None) == "-"
