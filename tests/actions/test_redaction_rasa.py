"""The shared secret detector under Rasa's Python 3.10 (the tracker store's interpreter)."""

from __future__ import annotations

import pytest

from bot.redaction import redact
from tests.test_redaction import ORDINARY, SECRETS


@pytest.mark.parametrize(("typed", "stored", "kinds"), SECRETS)
def test_secrets_are_masked_on_python_310(typed, stored, kinds):
    result = redact(typed)
    assert (result.text, result.kinds) == (stored, kinds)


@pytest.mark.parametrize("typed", ORDINARY)
def test_ordinary_messages_are_left_alone_on_python_310(typed):
    assert redact(typed).text == typed
