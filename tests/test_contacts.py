"""The support contacts have one configuration, common/contacts.py: the backend's e-mails and
messages and the gateway read it; the assistant's responses (domain/) write the same values, and
no Python source writes the phone, the addresses or the hours on its own."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backend.mail import builders
from bot.domain_files import load_domain
from bot.gateway import desk, errors, hours
from common.contacts import CONTACTS

ROOT = Path(__file__).resolve().parents[1]
PHONE = re.compile(r"(?<!\d)\d{2} \d{3} \d{2} \d{2}(?!\d)")
ADDRESS = re.compile(r"[\w.+-]+@[\w.-]*(?:ingksiegowosc|iksiegowosc24)\.pl")
HOURS = re.compile(r"\d{1,2}:\d{2}\s*[–-]\s*\d{1,2}:\d{2}")
SOURCES = ("actions", "backend", "bot", "common", "mailsink", "scripts")


def response_texts() -> list[str]:
    texts = []
    for variants in load_domain()["responses"].values():
        for variant in variants:
            texts.append(variant.get("text") or "")
            texts.extend(str(button.get("title", "")) for button in variant.get("buttons", []))
    return texts


def test_the_assistant_says_the_configured_phone_addresses_and_hours():
    texts = "\n".join(response_texts())
    phones, addresses, ranges = PHONE.findall(texts), ADDRESS.findall(texts), HOURS.findall(texts)
    # the domain does give contacts (or this test would check nothing)
    assert len(phones) >= 5 and addresses and ranges
    assert set(phones) == {CONTACTS.phone}
    assert set(addresses) <= {CONTACTS.support_email, CONTACTS.contact_email}
    assert set(ranges) == {CONTACTS.hours_range}
    assert CONTACTS.hours_short.split(" ")[0] in texts  # "pon.–pt."


def test_the_checks_catch_a_changed_phone():
    planted = "zadzwoń do nas: 32 356 22 24 (pon.–pt. 8:00–17:00), kontakt@iksiegowosc24.pl"
    assert set(PHONE.findall(planted)) != {CONTACTS.phone}
    assert set(HOURS.findall(planted)) != {CONTACTS.hours_range}


def _string_constants(path: Path) -> list[str]:
    """String constants of a module, docstrings left out (they may say what a value is)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_source_but_the_configuration_writes_the_contacts():
    configuration = ROOT / "common" / "contacts.py"
    written = {
        CONTACTS.phone, CONTACTS.support_email, CONTACTS.contact_email, CONTACTS.hours_range
    }
    found = []
    for area in SOURCES:
        for path in sorted((ROOT / area).rglob("*.py")):
            if path == configuration:
                continue
            for text in _string_constants(path):
                where = str(path.relative_to(ROOT))
                found += [(where, value) for value in written if value in text]
    assert found == []
    # and the configuration is where the check looks for it
    assert written & set(_string_constants(configuration)) == {
        CONTACTS.phone, CONTACTS.support_email, CONTACTS.contact_email
    }


@pytest.mark.parametrize(
    "text",
    [
        builders.password_changed(to_address="a@example.pl", name="Jan").text_body,
        desk.CONTACT_LINES,
        errors.MESSAGES["too_many_tickets"],
    ],
)
def test_backend_and_gateway_texts_carry_the_configured_phone(text):
    assert CONTACTS.phone in text


def test_the_gateway_business_hours_are_the_configured_ones():
    assert (hours.OPENS, hours.CLOSES, hours.WORKDAYS) == (
        CONTACTS.opens, CONTACTS.closes, frozenset(range(5))
    )
