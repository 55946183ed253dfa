"""Normalisation of Rasa REST-channel replies."""

from __future__ import annotations

from bot.gateway.messages import normalise_bot_messages


def test_recipient_id_is_dropped_and_buttons_kept():
    raw = [
        {
            "recipient_id": "abc",
            "text": "Wybierz:",
            "buttons": [{"title": "Reset", "payload": '/reset{"kanal":"email"}', "type": "x"}],
        }
    ]
    assert normalise_bot_messages(raw) == [
        {"text": "Wybierz:", "buttons": [{"title": "Reset", "payload": '/reset{"kanal":"email"}'}]}
    ]


def test_button_without_payload_sends_its_title():
    raw = [{"text": "?", "buttons": [{"title": "Tak"}]}]
    assert normalise_bot_messages(raw)[0]["buttons"] == [{"title": "Tak", "payload": "Tak"}]


def test_malformed_buttons_are_skipped():
    buttons = ["x", {"payload": "/a"}, {"title": "  "}, {"title": 5}, {"title": "OK", "payload": 1}]
    raw = [{"text": "?", "buttons": buttons}]
    assert normalise_bot_messages(raw)[0]["buttons"] == [{"title": "OK", "payload": "OK"}]


def test_image_only_with_http_url_and_custom_only_as_object():
    raw = [
        {"image": "javascript:alert(1)", "text": "a"},
        {"image": "https://example.com/x.png"},
        {"custom": "not an object", "text": "b"},
        {"custom": {"typ": "link"}},
    ]
    assert normalise_bot_messages(raw) == [
        {"text": "a", "buttons": []},
        {"text": "", "buttons": [], "image": "https://example.com/x.png"},
        {"text": "b", "buttons": []},
        {"text": "", "buttons": [], "custom": {"typ": "link"}},
    ]


def test_empty_and_malformed_items_are_dropped():
    raw = [{"recipient_id": "abc"}, "text", None, {"text": 5}, {"text": "Jest"}]
    assert normalise_bot_messages(raw) == [{"text": "Jest", "buttons": []}]


def test_non_list_reply_gives_no_messages():
    assert normalise_bot_messages({"text": "x"}) == []
    assert normalise_bot_messages(None) == []
