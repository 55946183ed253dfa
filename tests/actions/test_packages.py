"""Packages (actions/packages.py) against the real backend: price-list answers, the package
change (the question, the confirmation with the real amounts, the change itself, the database
and the confirmation e-mail after it), refusals, and the account's status.

The tests of this module share one seeded database and run in file order: Jan Kowalski's
company goes green -> silver (upgrade) -> green scheduled -> scheduled change cancelled."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import urllib.request
from contextlib import closing
from pathlib import Path
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

from actions.backend_client import get_backend_client
from actions.identity import identity_expired_events
from actions.packages import (
    ACCOUNT_STATUS_SLOT,
    ACCOUNT_VALUE_SLOTS,
    BLOCKED_SLOT,
    CHANGE_VALUE_SLOTS,
    PACKAGE_CHANGE_STATUS_SLOT,
    AccountStatusResult,
    ActionAccountStatus,
    ActionAskChangePackageFormConfirmation,
    ActionAskChangePackageFormPackage,
    ActionChangePackage,
    ActionPackagesInfo,
    PackageChangeStatus,
    ValidateChangePackageForm,
    confirmation_question,
    mentioned_amounts,
    package_code,
    price_aspects,
    question_topics,
    wanted_package,
)
from actions.confirmation import SUMMARY_SLOT, summary_fingerprint
from tests.actions.helpers import fresh_requester, make_tracker, slot_event, user_event
from tests.actions.test_identity import (
    ANNA,
    JAN,
    form_tracker,
    responses,
    verify,
    wait_for_mails,
)
from bot.domain_files import load_domain

REPO_ROOT = Path(__file__).resolve().parents[2]

EWA = "ewa.zajac@majafirma.pl"
_GRANTS: Dict[str, str] = {}


async def grant_for(live_backend, domain, address: str) -> str:
    """One verification per person for the whole module (grants live 15 minutes)."""
    if address not in _GRANTS:
        _GRANTS[address] = await verify(live_backend, domain, address)
    return _GRANTS[address]


def pkg(value: str) -> Dict[str, Any]:
    return {"entity": "package", "value": value}


def question(text: str, *packages: str):
    return make_tracker(
        events=[user_event(text, "packages_info", [pkg(p) for p in packages])],
    )


def follow_up(
    events: List[Dict[str, Any]],
    text: str,
    *packages: str,
    intent: str = "packages_info",
    before: str = "ask me",
    before_packages: tuple = (),
):
    """The tracker for `text` right after action_packages_info answered `before` with
    `events` (the context slots it set)."""
    slots = values_of(events)
    return make_tracker(
        slots=slots,
        events=[
            user_event(before, "packages_info", [pkg(p) for p in before_packages]),
            {"event": "action", "name": "action_packages_info"},
            {"event": "bot", "text": "..."},
            *[slot_event(name, value) for name, value in slots.items()],
            {"event": "action", "name": "action_listen"},
            user_event(text, intent, [pkg(p) for p in packages]),
        ],
    )


async def ask_then(first: str, first_packages: tuple, text: str, *packages: str, **kwargs):
    """Runs action_packages_info for `first`, then for the follow-up `text`."""
    events, _ = await run(ActionPackagesInfo(), question(first, *first_packages))
    tracker = follow_up(events, text, *packages, before=first, before_packages=first_packages,
                        **kwargs)
    return await run(ActionPackagesInfo(), tracker)


async def run(action, tracker, domain=None):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {})
    return events, dispatcher


def form_done_tracker(
    *,
    grant: Optional[str],
    package: Optional[str] = None,
    confirmation: Optional[bool] = None,
    blocked: Optional[str] = None,
    verified_email: Optional[str] = JAN,
    confirming_text: str = "tak",
    timestamp: Optional[float] = None,
):
    """The tracker when action_change_package runs after change_package_form completed."""
    answer = user_event(confirming_text, "affirm" if confirmation else "deny")
    answer["timestamp"] = timestamp or datetime.now(timezone.utc).timestamp()
    slots = {
        "verification_grant": grant,
        "verified_email": verified_email,
        "package": package,
        "confirmation": confirmation,
        "package_change_blocked": blocked,
    }
    return make_tracker(
        slots=slots,
        events=[
            {"event": "action", "name": "action_listen"},
            answer,
            {"event": "action", "name": "change_package_form"},
            slot_event("requested_slot", None),
            {"event": "active_loop", "name": None},
        ],
        latest_action_name="change_package_form",
        sender_id="packages-test",
    )


def asking_tracker(grant: Optional[str], package: Optional[str] = None):
    """The tracker the form's ask actions get."""
    return make_tracker(
        slots={"verification_grant": grant, "package": package, "requested_slot": "package"},
        events=[{"event": "action", "name": "change_package_form"}],
        active_loop="change_package_form",
    )


def values_of(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def subscription_row(live_backend, address: str):
    return live_backend.query(
        "SELECT s.package_code, s.valid_until, s.pending_package_code, s.trial_until"
        " FROM subscriptions s JOIN memberships m ON m.organisation_id = s.organisation_id"
        " JOIN accounts a ON a.id = m.account_id WHERE a.email = ?",
        address,
    )[0]


def write_db(live_backend, sql: str, *params: Any) -> None:
    with closing(sqlite3.connect(live_backend.stack.workdir / "backend.db", timeout=10)) as db:
        db.execute(sql, params)
        db.commit()


# --- the actions and the domain agree ----------------------------------------------------------


@pytest.fixture(scope="module")
def merged_domain() -> Dict[str, Any]:
    """The merged domain as a dict."""
    return load_domain()


def test_every_response_the_actions_use_exists(merged_domain):
    used = set()
    for module in ("identity", "packages"):
        source = (REPO_ROOT / "actions" / f"{module}.py").read_text(encoding="utf-8")
        used |= {name for name in re.findall(r"utter_[a-z_]+", source) if not name.endswith("_")}
    used -= {"utter_message"}  # dispatcher.utter_message
    used |= {f"utter_package_{topic}" for topic in ("documents", "invoicing", "backup")}
    used |= {"utter_package_amount_net", "utter_package_amount_gross"}
    assert used - set(merged_domain["responses"]) == set()


def test_actions_and_slots_are_in_the_domain(merged_domain):
    executor = ActionExecutor()
    executor.register_package("actions.identity")
    executor.register_package("actions.packages")
    assert set(executor.actions) <= set(merged_domain["actions"])
    for slot in (*CHANGE_VALUE_SLOTS, *ACCOUNT_VALUE_SLOTS, BLOCKED_SLOT):
        assert slot in merged_domain["slots"]
    for slot, values in (
        (PACKAGE_CHANGE_STATUS_SLOT, PackageChangeStatus),
        (ACCOUNT_STATUS_SLOT, AccountStatusResult),
    ):
        assert set(merged_domain["slots"][slot]["values"]) == values.values()


def test_sensitive_forms_verify_the_identity_first(merged_domain):
    for form in (
        "change_package_form", "account_status_form", "device_status_form", "remove_device_form",
        "add_user_form", "change_role_form", "remove_user_form", "change_login_email_form",
    ):
        assert merged_domain["forms"][form]["required_slots"][:2] == ["email", "verification_code"]
        assert f"utter_ask_{form}_email" in merged_domain["responses"]


# --- what a question is about ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [("złotego", "gold"), ("Zlotym", "gold"), ("srebrny", "silver"), ("green", "green"),
     ("zielonemu", "green"), ("platynowy", None), (None, None)],
)
def test_package_code(value, code):
    assert package_code(value) == code


def _package_entities(text: str, *words: str) -> List[Dict[str, Any]]:
    return [
        {"entity": "package", "value": word, "start": text.index(word)} for word in words
    ]


@pytest.mark.parametrize(
    ("text", "words", "wanted"),
    [
        ("Chcę wykupić złoty pakiet, zmiana z zielonego", ("złoty", "zielonego"), "gold"),
        ("z zielonego na srebrny", ("zielonego", "srebrny"), "silver"),
        ("mam teraz srebrny, chce zloty", ("srebrny", "zloty"), "gold"),
        ("zmiana na pakiet srebrny, obecnie złoty", ("srebrny", "złoty"), "silver"),
        ("srebrny albo złoty", ("srebrny", "złoty"), None),  # cannot be told
        ("chcę złoty", ("złoty",), None),  # one package: the mapping's
    ],
)
def test_wanted_package_of_two(text, words, wanted):
    assert wanted_package(text, _package_entities(text, *words)) == wanted


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("ile kosztuje srebrny?", ["price"]),
        ("Ile dokumentów IWD ma zielony", ["documents"]),
        ("czy jest okres próbny", ["trial"]),
        ("ilu użytkowników w złotym", ["users"]),
        ("co zawiera pakiet złoty", []),
    ],
)
def test_question_topics(text, topics):
    assert question_topics(text) == topics


@pytest.mark.parametrize(
    ("text", "aspects"),
    [
        ("ile miesięcznie?", ["monthly"]),
        ("a z VAT?", ["vat"]),
        ("A czy cena 799 zł to z VAT czy bez?", ["vat"]),
        ("jak bym chciał przejść na złoty to ile zapłacę", ["change"]),
        ("chcę przejść na złoty", []),  # the change itself, no price asked
        ("ile kosztuje srebrny brutto na miesiac", ["monthly", "vat"]),
    ],
)
def test_price_aspects(text, aspects):
    assert price_aspects(text) == aspects


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("A czy cena 799 zł to z VAT czy bez?", [79900]),
        ("982,77 zł to brutto?", [98277]),
        ("jaka stawka vat, 23 czy 8?", [2300, 800]),
        ("1 299,5 zł", [129950]),
        ("ile kosztuje srebrny", []),
    ],
)
def test_mentioned_amounts(text, amounts):
    assert mentioned_amounts(text) == amounts


# --- price-list answers ---------------------------------------------------------------------------


async def test_the_price_of_one_package(live_backend):
    tracker = question("ile kosztuje srebrny?", "silver")
    events, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert events == [SlotSet("packages_topic", "price"), SlotSet("packages_discussed", ["silver"])]
    assert responses(dispatcher) == ["utter_package_price"]
    message = dispatcher.messages[0]
    assert (message["name"], message["net"], message["gross"], message["vat_percent"]) == (
        "srebrny", "299,00 zł", "367,77 zł", 23,
    )


async def test_the_free_package(live_backend):
    _, dispatcher = await run(ActionPackagesInfo(), question("czy zielony jest darmowy", "green"))

    assert responses(dispatcher) == ["utter_package_price_free"]
    assert dispatcher.messages[0]["invoicing"] == "przez 90 dni"


async def test_one_column_of_one_package(live_backend):
    tracker = question("ile dokumentów IWD w srebrnym", "silver")
    _, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert responses(dispatcher) == ["utter_package_documents"]
    assert dispatcher.messages[0]["documents"] == "do 100 dokumentów rocznie"


async def test_everything_about_one_package(live_backend):
    _, dispatcher = await run(ActionPackagesInfo(), question("co zawiera pakiet złoty", "gold"))

    assert responses(dispatcher) == ["utter_package_details"]
    message = dispatcher.messages[0]
    assert (message["gross"], message["documents"], message["backup"]) == (
        "982,77 zł", "bez limitu", "30 GB",
    )


async def test_two_packages_compared_in_price_list_order(live_backend):
    _, dispatcher = await run(
        ActionPackagesInfo(), question("czym się różni złoty od srebrnego", "gold", "silver")
    )

    assert responses(dispatcher) == ["utter_packages_compare"]
    message = dispatcher.messages[0]
    assert (message["a_name"], message["a_net"], message["b_name"], message["b_net"]) == (
        "srebrny", "299,00 zł", "złoty", "799,00 zł",
    )
    assert (message["a_documents"], message["b_documents"]) == (
        "do 100 dokumentów rocznie", "bez limitu",
    )


async def test_overview_with_buttons(live_backend):
    _, dispatcher = await run(ActionPackagesInfo(), question("jakie są pakiety?"))

    assert responses(dispatcher) == [
        "utter_packages_overview",
        "utter_package_summary",
        "utter_package_summary",
        "utter_package_summary",
        "utter_packages_overview_question",
    ]
    assert [m["name"] for m in dispatcher.messages[1:4]] == ["zielony", "srebrny", "złoty"]
    assert [m["gross"] for m in dispatcher.messages[1:4]] == ["0,00 zł", "367,77 zł", "982,77 zł"]
    assert [b["payload"] for b in dispatcher.messages[4]["buttons"]] == [
        '/packages_info{"package":"green"}',
        '/packages_info{"package":"silver"}',
        '/packages_info{"package":"gold"}',
    ]


async def test_the_trial(live_backend):
    _, dispatcher = await run(ActionPackagesInfo(), question("czy jest okres próbny?"))

    assert responses(dispatcher) == ["utter_packages_trial"]
    message = dispatcher.messages[0]
    assert (message["free_name"], message["paid_names"], message["trial_days"]) == (
        "zielony", "srebrny i złoty", 90,
    )


async def test_users(live_backend):
    tracker = question("ilu użytkowników w srebrnym?", "silver")
    _, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert responses(dispatcher) == ["utter_packages_users"]


async def test_price_list_unavailable(use_backend, closed_port_url):
    use_backend(closed_port_url, timeout_seconds=1.0)

    events, dispatcher = await run(ActionPackagesInfo(), question("cennik"))

    assert events == [SlotSet("packages_topic", None), SlotSet("packages_discussed", None)]
    assert responses(dispatcher) == ["utter_packages_unavailable"]


# --- follow-ups: the answer just given is the context -----------------------------------------


async def test_the_answer_remembers_its_topic_and_packages(live_backend):
    events, _ = await run(ActionPackagesInfo(), question("ile kosztuje złoty?", "gold"))

    assert events == [SlotSet("packages_topic", "price"), SlotSet("packages_discussed", ["gold"])]


async def test_a_package_named_alone_after_a_price_is_its_price(live_backend):
    """"a srebrny?" (or a bare "srebrny", read as inform) right after the price of gold."""
    for intent in ("packages_info", "inform"):
        events, dispatcher = await ask_then(
            "ile kosztuje złoty?", ("gold",), "a srebrny?", "silver", intent=intent
        )
        assert responses(dispatcher) == ["utter_package_price"]
        assert (dispatcher.messages[0]["name"], dispatcher.messages[0]["net"]) == (
            "srebrny", "299,00 zł",
        )
        assert values_of(events) == {"packages_topic": "price", "packages_discussed": ["silver"]}


async def test_a_package_named_alone_after_documents_is_about_documents(live_backend):
    _, dispatcher = await ask_then(
        "ile dokumentów IWD ma srebrny?", ("silver",), "a złoty?", "gold"
    )

    assert responses(dispatcher) == ["utter_package_documents"]
    assert dispatcher.messages[0]["documents"] == "bez limitu"


async def test_monthly_follow_up_divides_the_yearly_price(live_backend):
    events, dispatcher = await ask_then("ile kosztuje złoty?", ("gold",), "ile miesięcznie?")

    assert responses(dispatcher) == ["utter_package_price_monthly"]
    message = dispatcher.messages[0]
    assert (message["name"], message["monthly_net"], message["monthly_gross"]) == (
        "złoty", "66,58 zł", "81,90 zł",
    )
    assert (message["net"], message["gross"]) == ("799,00 zł", "982,77 zł")
    assert values_of(events)["packages_topic"] == "monthly"


async def test_monthly_without_context_lists_the_paid_packages(live_backend):
    _, dispatcher = await run(ActionPackagesInfo(), question("ile to miesięcznie wychodzi?"))

    assert responses(dispatcher) == ["utter_package_price_monthly"] * 2
    assert [(m["name"], m["monthly_net"]) for m in dispatcher.messages] == [
        ("srebrny", "24,92 zł"), ("złoty", "66,58 zł"),
    ]


async def test_context_is_only_the_answer_just_given(live_backend):
    """After anything else (here a greeting answered in between) "ile miesięcznie?" does not
    reach back to an older price answer."""
    events, _ = await run(ActionPackagesInfo(), question("ile kosztuje złoty?", "gold"))
    tracker = make_tracker(
        slots=values_of(events),
        events=[
            user_event("ile kosztuje złoty?", "packages_info", [pkg("gold")]),
            {"event": "action", "name": "action_packages_info"},
            {"event": "action", "name": "action_listen"},
            user_event("dzień dobry", "greet"),
            {"event": "action", "name": "utter_greet"},
            {"event": "action", "name": "action_listen"},
            user_event("ile miesięcznie?", "packages_info"),
        ],
    )
    _, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert [m["name"] for m in dispatcher.messages] == ["srebrny", "złoty"]


async def test_with_vat_follow_up(live_backend):
    _, dispatcher = await ask_then("ile kosztuje srebrny?", ("silver",), "a z VAT?")

    assert responses(dispatcher) == ["utter_package_price_gross"]
    assert (dispatcher.messages[0]["name"], dispatcher.messages[0]["gross"]) == (
        "srebrny", "367,77 zł",
    )


async def test_with_vat_after_the_monthly_prices_stays_monthly(live_backend):
    events, _ = await run(ActionPackagesInfo(), question("ile kosztuje złoty?", "gold"))
    monthly = follow_up(events, "ile miesięcznie?", before="ile kosztuje złoty?",
                        before_packages=("gold",))
    events, _ = await run(ActionPackagesInfo(), monthly)
    tracker = follow_up(events, "a z VAT?", before="ile miesięcznie?")

    _, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert responses(dispatcher) == ["utter_package_price_monthly"]
    assert dispatcher.messages[0]["monthly_gross"] == "81,90 zł"


async def test_a_column_of_another_package_as_a_follow_up(live_backend):
    _, dispatcher = await ask_then(
        "ile kosztuje srebrny?", ("silver",), "a złoty ma kopię?", "gold"
    )

    assert responses(dispatcher) == ["utter_package_backup"]
    assert (dispatcher.messages[0]["name"], dispatcher.messages[0]["backup"]) == ("złoty", "30 GB")


async def test_is_this_amount_with_vat(live_backend):
    """"A czy cena 799 zł to z VAT czy bez?": 799 zł is gold's net price."""
    events, dispatcher = await run(
        ActionPackagesInfo(), question("A czy cena 799 zł to z VAT czy bez?")
    )

    assert responses(dispatcher) == ["utter_package_amount_net"]
    message = dispatcher.messages[0]
    assert (message["amount"], message["name"], message["gross"], message["vat_percent"]) == (
        "799,00 zł", "złoty", "982,77 zł", 23,
    )
    assert values_of(events) == {"packages_topic": "gross", "packages_discussed": ["gold"]}

    _, dispatcher = await run(ActionPackagesInfo(), question("367,77 zł to cena z VAT?"))
    assert responses(dispatcher) == ["utter_package_amount_gross"]
    assert (dispatcher.messages[0]["name"], dispatcher.messages[0]["net"]) == (
        "srebrny", "299,00 zł",
    )


async def test_the_vat_rate_question(live_backend):
    """"jaka stawka vat, 23 czy 8?": the rate from the price list, then the gross prices."""
    _, dispatcher = await run(ActionPackagesInfo(), question("jaka stawka vat, 23 czy 8?"))

    assert responses(dispatcher) == [
        "utter_packages_vat", "utter_package_price_gross", "utter_package_price_gross",
    ]
    assert dispatcher.messages[0]["vat_percent"] == 23
    assert [m["name"] for m in dispatcher.messages[1:]] == ["srebrny", "złoty"]


async def test_what_a_change_would_cost_is_answered_not_started(live_backend):
    _, dispatcher = await run(
        ActionPackagesInfo(),
        question("jak bym chciał przejść na złoty to ile zapłacę", "gold"),
    )

    assert responses(dispatcher) == ["utter_package_price", "utter_package_change_cost"]
    assert dispatcher.messages[0]["name"] == "złoty"


async def test_the_comparison_while_the_change_asks_for_the_package(live_backend):
    """A price-list question while change_package_form asks for the package: the price list
    without its own question and buttons (the form asks next, with its buttons)."""
    tracker = make_tracker(
        slots={"requested_slot": "package"},
        events=[user_event("który pakiet wybrać?", "packages_info")],
        active_loop="change_package_form",
    )
    _, dispatcher = await run(ActionPackagesInfo(), tracker)

    assert responses(dispatcher) == [
        "utter_packages_overview", "utter_package_summary", "utter_package_summary",
        "utter_package_summary", "utter_packages_overview_vat",
    ]
    assert all(not m.get("buttons") for m in dispatcher.messages)


# --- changing the package -------------------------------------------------------------------------


async def test_the_package_question_shows_the_current_package(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    events, dispatcher = await run(ActionAskChangePackageFormPackage(), asking_tracker(grant))

    assert events == []
    assert responses(dispatcher) == ["utter_ask_change_package_form_package_current"]
    message = dispatcher.messages[0]
    assert (message["current_name"], message["valid_until"]) == ("zielony", "31.08.2027")
    assert [b["payload"] for b in message["buttons"]] == [
        '/inform{"package":"silver"}',
        '/inform{"package":"gold"}',
    ]


async def test_upgrade_confirmed_with_the_amount_then_changed(live_backend, domain, caplog):
    caplog.set_level(logging.DEBUG)
    grant = await grant_for(live_backend, domain, JAN)

    # the confirmation question states what happens and what it costs
    events, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "silver")
    )
    assert events == []
    assert responses(dispatcher) == ["utter_ask_change_package_form_confirmation_upgrade"]
    preview = dispatcher.messages[0]
    assert (preview["current_name"], preview["new_name"], preview["valid_until"]) == (
        "zielony", "srebrny", "31.08.2027",
    )
    assert (preview["price_net"], preview["price_gross"]) == ("299,00 zł", "367,77 zł")

    assert preview["amount_net"].endswith(" zł") and preview["amount_gross"].endswith(" zł")

    tracker = form_done_tracker(grant=grant, package="silver", confirmation=True)
    events, dispatcher = await run(ActionChangePackage(), tracker)

    assert dispatcher.messages == []  # the rules answer
    today = datetime.now(ZoneInfo("Europe/Warsaw")).strftime("%d.%m.%Y")
    assert events == [
        SlotSet("package_change_status", "changed"),
        SlotSet("package_change_to", "srebrny"),
        SlotSet("package_change_from", "zielony"),
        SlotSet("package_change_date", today),
        SlotSet("package_change_valid_until", "31.08.2027"),
        # what the user was told is what the backend charged
        SlotSet("package_change_net", preview["amount_net"]),
        SlotSet("package_change_gross", preview["amount_gross"]),
        SlotSet("package_change_warnings", ""),
        SlotSet("package", None),
        SlotSet("confirmation", None),
        SlotSet("package_change_blocked", None),
    ]
    assert subscription_row(live_backend, JAN)[0] == "silver"
    mails = wait_for_mails(live_backend, JAN, "Zmiana pakietu na srebrny")
    assert len(mails) == 1 and preview["amount_net"] in mails[0]["text"]
    assert grant not in caplog.text

    # a retried action (same confirming message) does not change anything twice
    events, _ = await run(ActionChangePackage(), tracker)
    assert values_of(events)["package_change_status"] == "changed"
    assert subscription_row(live_backend, JAN)[0] == "silver"


async def test_an_unusable_quote_ends_the_form(fake_backend, use_backend):
    """The confirmation shows only the backend's amounts: without them, no question."""
    fake_backend.reply(200, {"change": "upgrade", "current_package": {"name": "zielony"},
                             "new_package": {"name": "złoty"}, "payment": None})
    use_backend(fake_backend.url)

    events, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker("grant", "złotego")
    )

    assert dispatcher.messages == []
    assert events == [
        SlotSet("package_change_blocked", "failed"),
        SlotSet("requested_slot", None),
    ]
    [request] = fake_backend.requests
    assert (request.method, request.path, request.json) == (
        "POST", "/api/v1/account/subscription/change/quote", {"package": "gold"},
    )
    assert request.headers["X-Verification-Grant"] == "grant"
    assert confirmation_question({"change": "something_else"}) == (None, {})


async def test_the_same_package_is_refused_before_the_confirmation(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    events, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "silver")
    )

    assert dispatcher.messages == []
    assert events == [
        SlotSet("package_change_blocked", "same_package"),
        SlotSet("requested_slot", None),
    ]
    events, _ = await run(
        ActionChangePackage(),
        form_done_tracker(grant=grant, package="silver", blocked="same_package"),
    )
    assert values_of(events)["package_change_status"] == "same_package"
    assert values_of(events)["package_change_blocked"] is None
    # and should the backend be asked anyway, it refuses the same way
    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=grant, package="silver", confirmation=True)
    )
    assert values_of(events)["package_change_status"] == "same_package"


async def test_downgrade_is_scheduled_for_the_end_of_the_period(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    events, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "green")
    )
    assert responses(dispatcher) == ["utter_ask_change_package_form_confirmation_downgrade"]
    preview = dispatcher.messages[0]
    assert (preview["effective_from"], preview["valid_until"]) == ("01.09.2027", "31.08.2027")
    assert preview["new_documents"].startswith("do 10 dokumentów")

    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=grant, package="green", confirmation=True)
    )

    values = values_of(events)
    assert values["package_change_status"] == "scheduled"
    assert (values["package_change_to"], values["package_change_from"]) == ("zielony", "srebrny")
    assert values["package_change_date"] == "01.09.2027"
    assert "10 dokumentów" in values["package_change_warnings"]
    assert subscription_row(live_backend, JAN)[:3] == ("silver", "2027-08-31", "green")
    assert len(wait_for_mails(live_backend, JAN, "Zaplanowana zmiana pakietu na zielony")) == 1


async def test_the_scheduled_package_again_is_refused(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    events, _ = await run(ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "green"))

    assert events == [
        SlotSet("package_change_blocked", "already_scheduled"),
        SlotSet("requested_slot", None),
    ]
    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=grant, package="green", confirmation=True)
    )
    assert values_of(events)["package_change_status"] == "already_scheduled"


async def test_the_package_question_mentions_the_pending_downgrade(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    _, dispatcher = await run(ActionAskChangePackageFormPackage(), asking_tracker(grant))

    assert responses(dispatcher) == ["utter_ask_change_package_form_package_pending"]
    message = dispatcher.messages[0]
    assert (message["current_name"], message["pending_name"], message["pending_from"]) == (
        "srebrny", "zielony", "01.09.2027",
    )
    assert len(message["buttons"]) == 3  # the current one cancels the downgrade


async def test_status_numbers_match_the_database(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)
    organisation = live_backend.query(
        "SELECT m.organisation_id FROM memberships m JOIN accounts a ON a.id = m.account_id"
        " WHERE a.email = ?", JAN,
    )[0][0]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    for _ in range(3):
        write_db(
            live_backend,
            "INSERT INTO document_exchanges (organisation_id, exchanged_at) VALUES (?, ?)",
            organisation, now,
        )
    used = live_backend.query(
        "SELECT count(*) FROM document_exchanges WHERE organisation_id = ?", organisation
    )[0][0]
    package, valid_until, pending, _ = subscription_row(live_backend, JAN)

    events, dispatcher = await run(
        ActionAccountStatus(), make_tracker(slots={"verification_grant": grant})
    )

    assert dispatcher.messages == []
    values = values_of(events)
    assert values["account_status_result"] == "pending_downgrade"
    assert (package, pending) == ("silver", "green")
    assert values["account_package"] == "srebrny"
    assert values["account_valid_until"] == date.fromisoformat(valid_until).strftime("%d.%m.%Y")
    assert (values["account_pending_package"], values["account_pending_from"]) == (
        "zielony", "01.09.2027",
    )
    assert values["account_organisation"] == "Majama Michał Zając"
    assert values["account_iwd_used"] == str(used) == "3"
    assert (values["account_iwd_limit"], values["account_iwd_remaining"]) == ("100", "97")
    assert values["account_iwd_unlimited"] is False
    assert values["account_iwd_year"] == str(datetime.now().year)


async def test_choosing_the_current_package_cancels_the_downgrade(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)

    _, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "silver")
    )
    assert responses(dispatcher) == ["utter_ask_change_package_form_confirmation_keep"]
    assert dispatcher.messages[0]["pending_name"] == "zielony"

    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=grant, package="silver", confirmation=True)
    )

    values = values_of(events)
    assert values["package_change_status"] == "downgrade_cancelled"
    assert values["package_change_to"] == "srebrny"
    assert subscription_row(live_backend, JAN)[:3] == ("silver", "2027-08-31", None)
    assert len(wait_for_mails(live_backend, JAN, "Anulowana zmiana pakietu")) == 1


async def test_no_at_the_confirmation_changes_nothing(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)
    before = subscription_row(live_backend, JAN)

    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=grant, package="gold", confirmation=False)
    )

    assert values_of(events)["package_change_status"] == "cancelled"
    assert subscription_row(live_backend, JAN) == before
    assert wait_for_mails(live_backend, JAN, "", timeout=1.0) == []


async def test_an_expired_grant_restarts_the_verification(live_backend, domain):
    events, _ = await run(
        ActionChangePackage(),
        form_done_tracker(grant="to-nie-jest-grant", package="gold", confirmation=True),
    )
    assert values_of(events)["package_change_status"] == "identity_expired"
    for event in identity_expired_events():
        assert event in events

    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant=None, package="gold", confirmation=True)
    )
    assert values_of(events)["package_change_status"] == "identity_expired"

    events, dispatcher = await run(ActionAskChangePackageFormPackage(), asking_tracker("zly-grant"))
    assert dispatcher.messages == []
    assert events[-2:] == [
        SlotSet("package_change_blocked", "identity_expired"),
        SlotSet("requested_slot", None),
    ]
    assert SlotSet("verification_grant", None) in events

    events, _ = await run(ActionAccountStatus(), make_tracker(slots={"verification_grant": "zly"}))
    assert values_of(events)["account_status_result"] == "identity_expired"
    assert SlotSet("verification_grant", None) in events


async def test_change_backend_unavailable(use_backend, closed_port_url):
    use_backend(closed_port_url, timeout_seconds=1.0)

    events, _ = await run(
        ActionChangePackage(), form_done_tracker(grant="g", package="gold", confirmation=True)
    )
    assert values_of(events)["package_change_status"] == "unavailable"
    events, _ = await run(ActionAskChangePackageFormPackage(), asking_tracker("g"))
    assert events == [
        SlotSet("package_change_blocked", "unavailable"),
        SlotSet("requested_slot", None),
    ]
    events, _ = await run(ActionAccountStatus(), make_tracker(slots={"verification_grant": "g"}))
    assert values_of(events)["account_status_result"] == "unavailable"


async def test_an_employee_cannot_change_the_package(live_backend, domain):
    """Ewa Zając joins Jan's company as an employee (invitation accepted), verifies herself
    and is refused before any question; the backend would refuse too."""
    jan = await grant_for(live_backend, domain, JAN)
    await get_backend_client().add_member(jan, EWA, "Ewa Zając", "employee", "add-ewa-1")
    invitation = wait_for_mails(live_backend, EWA, "Zaproszenie")[-1]
    token = re.search(r"token=([A-Za-z0-9_\-]+)", invitation["text"]).group(1)
    request = urllib.request.Request(
        f"{live_backend.url}/api/v1/auth/activation/confirm",
        data=json.dumps(
            {"token": token, "password": "Pracownik#2026", "password_confirm": "Pracownik#2026"}
        ).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()
    ewa = await grant_for(live_backend, domain, EWA)
    before = subscription_row(live_backend, JAN)

    events, dispatcher = await run(ActionAskChangePackageFormPackage(), asking_tracker(ewa))
    assert dispatcher.messages == []
    assert events == [
        SlotSet("package_change_blocked", "not_owner"),
        SlotSet("requested_slot", None),
    ]

    events, _ = await run(
        ActionChangePackage(),
        form_done_tracker(grant=ewa, package="gold", confirmation=True, verified_email=EWA),
    )
    assert values_of(events)["package_change_status"] == "not_owner"
    assert subscription_row(live_backend, JAN) == before

    # she may read the status
    events, _ = await run(ActionAccountStatus(), make_tracker(slots={"verification_grant": ewa}))
    assert values_of(events)["account_package"] == "srebrny"


async def test_a_trial_package_is_ordered(live_backend, domain):
    """Anna's office tries silver (the whole period a trial, green waiting): choosing silver
    orders a paid year after the trial."""
    write_db(
        live_backend,
        "UPDATE subscriptions SET trial_until = valid_until, pending_package_code = 'green'"
        " WHERE organisation_id = (SELECT m.organisation_id FROM memberships m"
        " JOIN accounts a ON a.id = m.account_id WHERE a.email = ?)",
        ANNA,
    )
    anna = await grant_for(live_backend, domain, ANNA)

    events, _ = await run(ActionAccountStatus(), make_tracker(slots={"verification_grant": anna}))
    values = values_of(events)
    assert values["account_status_result"] == "trial"
    assert (values["account_package"], values["account_pending_package"]) == ("srebrny", "zielony")

    _, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(anna, "silver")
    )
    assert responses(dispatcher) == ["utter_ask_change_package_form_confirmation_order"]
    preview = dispatcher.messages[0]
    assert (preview["paid_from"], preview["paid_until"]) == ("01.07.2027", "30.06.2028")
    assert (preview["amount_net"], preview["amount_gross"]) == ("299,00 zł", "367,77 zł")

    events, _ = await run(
        ActionChangePackage(),
        form_done_tracker(grant=anna, package="silver", confirmation=True, verified_email=ANNA),
    )

    values = values_of(events)
    assert values["package_change_status"] == "ordered"
    assert (values["package_change_net"], values["package_change_valid_until"]) == (
        "299,00 zł", "30.06.2028",
    )
    assert subscription_row(live_backend, ANNA)[:3] == ("silver", "2028-06-30", None)


# --- the change form: values from the first message, help, corrections -------------------------


async def test_package_and_address_from_the_message_that_starts_the_change(live_backend, domain):
    """"chcę zmienić pakiet na srebrny, mail jan.kowalski@majafirma.pl": the package is kept,
    the code goes to that address at once - neither is asked for."""
    requester = fresh_requester()
    text = "chcę zmienić pakiet na srebrny, mail jan.kowalski@majafirma.pl"
    tracker = form_tracker(
        "change_package_form",
        text=text,
        intent="change_package",
        requested_slot=None,
        candidates={"package": "silver"},
        entities=[
            {"entity": "package", "value": "silver", "start": 23, "end": 31},
            {"entity": "email", "value": JAN, "start": 38, "end": 63},
        ],
        metadata={"pomocnik_client": {"network": requester["network"]}},
        sender_id=requester["conversation"],
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateChangePackageForm().run(dispatcher, tracker, domain)

    values = values_of(events)
    assert values["package"] == "silver"
    assert values["email"] == JAN
    assert values["requested_slot"] == "verification_code"
    assert responses(dispatcher) == ["utter_verification_code_sent"]


def package_question(grant: str, text: str, intent: str, candidates=None):
    return form_tracker(
        "change_package_form",
        text=text,
        intent=intent,
        requested_slot="package",
        candidates=candidates or {},
        slots={"verification_grant": grant},
    )


async def test_dont_know_at_the_package_question_gets_the_comparison(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)
    dispatcher = CollectingDispatcher()

    events = await ValidateChangePackageForm().run(
        dispatcher, package_question(grant, "nie wiem, nie umiem się zdecydować", "dont_know"),
        domain,
    )

    assert events == [SlotSet("package", None), SlotSet("requested_slot", "package")]
    assert responses(dispatcher) == [
        "utter_packages_overview", "utter_package_summary", "utter_package_summary",
        "utter_package_summary", "utter_packages_overview_vat",
    ]


async def test_no_at_the_package_question_keeps_the_form(live_backend, domain):
    grant = await grant_for(live_backend, domain, JAN)
    dispatcher = CollectingDispatcher()

    events = await ValidateChangePackageForm().run(
        dispatcher, package_question(grant, "nie", "deny"), domain
    )

    assert events == [SlotSet("package", None), SlotSet("requested_slot", "package")]
    assert responses(dispatcher) == ["utter_package_change_keep_going"]


async def test_a_package_with_dont_know_is_still_the_answer(live_backend, domain):
    """"nie wiem, chyba złoty" names the package: it is taken."""
    grant = await grant_for(live_backend, domain, JAN)
    dispatcher = CollectingDispatcher()

    events = await ValidateChangePackageForm().run(
        dispatcher,
        package_question(grant, "nie wiem, chyba złoty", "dont_know", {"package": "gold"}),
        domain,
    )

    values = values_of(events)
    assert (values["package"], values["requested_slot"]) == ("gold", "confirmation")


async def test_another_package_at_the_summary_shows_a_new_summary(live_backend, domain):
    """"jednak złoty" at the summary of the change to silver: the package changes, the earlier
    summary no longer counts, and the new summary is about gold."""
    grant = await grant_for(live_backend, domain, JAN)
    shown = summary_fingerprint("change_package_form", {"package": "silver"})
    tracker = form_tracker(
        "change_package_form",
        text="jednak złoty",
        requested_slot="confirmation",
        candidates={"package": "gold"},
        slots={"verification_grant": grant, "package": "silver", SUMMARY_SLOT: shown},
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateChangePackageForm().run(dispatcher, tracker, domain)

    values = values_of(events)
    assert (values["package"], values["confirmation"]) == ("gold", None)
    assert values["requested_slot"] == "confirmation"
    assert values[SUMMARY_SLOT] != shown

    _, dispatcher = await run(
        ActionAskChangePackageFormConfirmation(), asking_tracker(grant, "gold")
    )
    assert dispatcher.messages[0]["new_name"] == "złoty"


async def test_net_follow_up_leads_with_the_net_price(live_backend):
    _, dispatcher = await ask_then("ile kosztuje złoty?", ("gold",), "a netto?")

    assert responses(dispatcher) == ["utter_package_price"]
    assert dispatcher.messages[0]["net"] == "799,00 zł"
