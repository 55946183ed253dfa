"""Every response of the domain renders through Rasa's interpolator without an error.

Rasa fills every response with the current slot values (``str.format`` after turning ``{name}``
into ``{0[name]}``). A button payload with entities, ``/inform{"package":"green"}``, looks like a
placeholder to it: the lookup fails, and Rasa logs ``interpolator.interpolate.text`` with the
exception's local variables - the dict of *all* slot values, cut at 80 characters, which showed
the beginning of the verification grant in the log. Payloads are therefore written with escaped
braces (``/inform{{"package":"green"}}``), which the interpolator turns back into single ones.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest
from structlog.testing import capture_logs

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain

REPO_ROOT = Path(__file__).resolve().parents[2]
GRANT = "GRANT-0123456789abcdefghijklmnopqrstuvwxyz"
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def load_domain() -> Domain:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Domain.load(str(REPO_ROOT / "domain"))


DOMAIN = load_domain()


def slot_values() -> Dict[str, Any]:
    """Every slot set; the grant to a recognisable value (the one that must never be logged)."""
    values: Dict[str, Any] = {slot.name: f"value-of-{slot.name}" for slot in DOMAIN.slots}
    values["verification_grant"] = GRANT
    values["pin"] = "4821"
    values["verification_code"] = "739184"
    return values


def placeholders(response: Any) -> List[str]:
    if isinstance(response, str):
        return PLACEHOLDER.findall(response)
    if isinstance(response, dict):
        return [name for value in response.values() for name in placeholders(value)]
    if isinstance(response, list):
        return [name for value in response for name in placeholders(value)]
    return []


@pytest.mark.parametrize("name", sorted(DOMAIN.responses))
def test_response_renders_without_an_interpolation_error(name: str) -> None:
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    for variation in DOMAIN.responses[name]:
        # the values an action passes along (utter_message(response=..., roles_summary=...))
        kwargs = {key: f"kwarg-{key}" for key in placeholders(variation)}
        with capture_logs() as logs:
            filled = nlg._fill_response(copy.deepcopy(variation), slot_values(), **kwargs)
        assert [entry for entry in logs if "interpolat" in str(entry.get("event"))] == [], name
        assert GRANT not in repr(logs)
        for button in filled.get("buttons") or []:
            payload = button["payload"]
            assert "{{" not in payload and "0[" not in payload, (name, payload)
            assert "value-of-" not in payload and GRANT not in payload, (name, payload)


def test_entity_payloads_reach_the_channel_as_rasa_parses_them() -> None:
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    checked = 0
    for name, variations in DOMAIN.responses.items():
        for variation in variations:
            written = [b["payload"] for b in variation.get("buttons") or []]
            if not any("{{" in payload for payload in written):
                continue
            filled = nlg._fill_response(copy.deepcopy(variation), slot_values())
            expected = [p.replace("{{", "{").replace("}}", "}") for p in written]
            assert [b["payload"] for b in filled["buttons"]] == expected, name
            checked += 1
    assert checked >= 5  # the role, package, device and correction buttons


def test_no_response_has_a_raw_brace_that_is_not_a_placeholder() -> None:
    """A single ``{`` is either ``{slot_or_argument}`` or escaped as ``{{``."""
    offenders = []
    for name, variations in DOMAIN.responses.items():
        for variation in variations:
            for text in _strings(variation):
                stripped = PLACEHOLDER.sub("", text).replace("{{", "").replace("}}", "")
                if "{" in stripped or "}" in stripped:
                    offenders.append((name, text))
    assert offenders == []


def _strings(value: Any) -> List[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
