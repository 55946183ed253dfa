"""Packages: questions about the price list, changing the package, the account's status.

- ``action_packages_info`` answers from the live price list (``GET /api/v1/packages``): one
  package (a column - price, invoicing, IWD documents, backup - or all of it), two compared, the
  trial, or an overview with buttons. The packages come from the entities of the latest message
  (the ``package`` slot is not filled by a ``packages_info`` message, see domain/packages.yml).
  Prices and limits are never written in the domain: they are template variables.
- ``change_package_form`` (identity, ``package``, ``confirmation``): the package question shows
  the current package; the confirmation states what will happen and what it costs (upgrade now,
  the yearly net difference pro rata for the rest of the paid period; downgrade at the end of
  the period; order during a trial: a full paid year after it) from the backend's quote of the
  change (``POST /api/v1/account/subscription/change/quote``): the backend is the one place
  prices are computed, so the amount confirmed is the amount charged. When the change cannot be
  made at all (not the owner, the same package, already scheduled) the form ends without asking
  and ``action_change_package`` reports it. ``action_change_package`` (a ``GrantedOperation``)
  calls the backend and sets ``package_change_status``; the rules (data/rules/packages.yml)
  answer with the values it put into the ``package_change_*`` slots.
- ``account_status_form`` (identity only) then ``action_account_status``: package, paid period,
  trial, pending downgrade, IWD documents used against the limit - values in ``account_*`` slots,
  outcome in ``account_status_result``.

Amounts are shown as the backend writes them ("299,00 zł", also per month); the actions compute
no price and write no text.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.backend_client import (
    BackendError,
    BackendUnavailable,
    get_backend_client,
)
from actions.confirmation import ConfirmedFormValidator
from actions.granted import (
    GrantedOperation,
    GrantedOutcome,
    Outcome,
    call_with_grant,
    refusal_status,
)
from actions.idempotency import idempotency_key
from actions.identity import (
    VerifiedIdentityValidator,
    identity_expired_events,
)
from actions.people import fold
from actions.tracker import action_before_latest_message, latest_intent
from common.polish import format_iso_date

logger = logging.getLogger(__name__)

CHANGE_PACKAGE_FORM = "change_package_form"
ACCOUNT_STATUS_FORM = "account_status_form"

PACKAGE_SLOT = "package"
CONFIRMATION_SLOT = "confirmation"
PACKAGE_ENTITY = "package"

# Why the form ended without asking for the confirmation (read and cleared by the submit action).
BLOCKED_SLOT = "package_change_blocked"
PACKAGE_CHANGE_STATUS_SLOT = "package_change_status"
ACCOUNT_STATUS_SLOT = "account_status_result"

# Values for the rules' replies after a change.
CHANGE_TO_SLOT = "package_change_to"
CHANGE_FROM_SLOT = "package_change_from"
CHANGE_DATE_SLOT = "package_change_date"
CHANGE_VALID_UNTIL_SLOT = "package_change_valid_until"
CHANGE_NET_SLOT = "package_change_net"
CHANGE_GROSS_SLOT = "package_change_gross"
CHANGE_WARNINGS_SLOT = "package_change_warnings"
CHANGE_VALUE_SLOTS = (
    CHANGE_TO_SLOT,
    CHANGE_FROM_SLOT,
    CHANGE_DATE_SLOT,
    CHANGE_VALID_UNTIL_SLOT,
    CHANGE_NET_SLOT,
    CHANGE_GROSS_SLOT,
    CHANGE_WARNINGS_SLOT,
)

ACCOUNT_VALUE_SLOTS = (
    "account_organisation",
    "account_package",
    "account_valid_until",
    "account_pending_package",
    "account_pending_from",
    "account_iwd_year",
    "account_iwd_used",
    "account_iwd_limit",
    "account_iwd_remaining",
    "account_iwd_unlimited",
)


class PackageChangeStatus(GrantedOutcome):
    """Values of the categorical slot `package_change_status`."""

    CHANGED = "changed"  # upgrade, effective today
    ORDERED = "ordered"  # the tried package ordered during a trial
    SCHEDULED = "scheduled"  # downgrade at the end of the period
    DOWNGRADE_CANCELLED = "downgrade_cancelled"
    CANCELLED = "cancelled"  # the user said no
    SAME_PACKAGE = "same_package"
    ALREADY_SCHEDULED = "already_scheduled"
    NOT_OWNER = "not_owner"
    NO_SUBSCRIPTION = "no_subscription"


class AccountStatusResult(GrantedOutcome):
    """Values of the categorical slot `account_status_result`."""

    ACTIVE = "active"
    TRIAL = "trial"
    PENDING_DOWNGRADE = "pending_downgrade"
    NO_SUBSCRIPTION = "no_subscription"


_CHANGE_OUTCOMES = {
    "upgrade": PackageChangeStatus.CHANGED,
    "order": PackageChangeStatus.ORDERED,
    "downgrade_scheduled": PackageChangeStatus.SCHEDULED,
    "downgrade_cancelled": PackageChangeStatus.DOWNGRADE_CANCELLED,
}
_CHANGE_REFUSALS = {
    "same_package": PackageChangeStatus.SAME_PACKAGE,
    "change_already_scheduled": PackageChangeStatus.ALREADY_SCHEDULED,
    "not_owner": PackageChangeStatus.NOT_OWNER,
    "subscription_not_found": PackageChangeStatus.NO_SUBSCRIPTION,
}

# --- names and dates ----------------------------------------------------------------------

# Any case form of the Polish names (with or without diacritics) and the English codes; the
# NLU maps them already (entity synonyms), this is the safety net for a raw value.
_NAME_STEMS = (("zielon", "green"), ("srebrn", "silver"), ("zlot", "gold"))


def package_code(value: Any) -> Optional[str]:
    """green / silver / gold for any form of a package name, else None."""
    if not isinstance(value, str):
        return None
    text = fold(value.strip())
    if text in ("green", "silver", "gold"):
        return text
    for stem, code in _NAME_STEMS:
        if stem in text:
            return code
    return None


# "z zielonego", "mam teraz srebrny": the package named right after is the current one;
# "na złoty": the one wanted.
_CURRENT_PACKAGE_BEFORE = re.compile(
    r"(?:\bze?|\bmam(?:\s+teraz)?|\bobecn\w*|\bteraz(?:\s+mam)?|\baktualn\w*)"
    r"\s+(?:pakiet\w*\s+)?$"
)
_WANTED_PACKAGE_BEFORE = re.compile(r"\bna\s+(?:pakiet\w*\s+)?$")


def wanted_package(text: Any, entities: List[Dict[str, Any]]) -> Optional[str]:
    """Of two or more packages a message names ("złoty, zmiana z zielonego", "z zielonego na
    srebrny"), the one wanted; None when one or none is named or it cannot be told."""
    if not isinstance(text, str):
        return None
    named = [
        (entity["start"], code)
        for entity in entities
        if entity.get("entity") == "package"
        and isinstance(entity.get("start"), int)
        and (code := package_code(entity.get("value"))) is not None
    ]
    if len({code for _, code in named}) < 2:
        return None
    folded = fold(text)
    for start, code in named:
        if _WANTED_PACKAGE_BEFORE.search(folded[:start]):
            return code
    others = {code for start, code in named if not _CURRENT_PACKAGE_BEFORE.search(folded[:start])}
    return others.pop() if len(others) == 1 else None


# --- the price list ---------------------------------------------------------------------------


def _price(package: Dict[str, Any]) -> Dict[str, Any]:
    price = package.get("yearly_price")
    return price if isinstance(price, dict) else {}


def _feature(package: Dict[str, Any], name: str) -> Dict[str, Any]:
    features = package.get("features") if isinstance(package.get("features"), dict) else {}
    value = features.get(name)
    return value if isinstance(value, dict) else {}


def package_values(package: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """Template variables of one package (name, prices, limits as the price list words them)."""
    price = _price(package)
    return {
        f"{prefix}name": package.get("name"),
        f"{prefix}net": price.get("net"),
        f"{prefix}gross": price.get("gross"),
        f"{prefix}vat_percent": price.get("vat_percent"),
        f"{prefix}invoicing": _feature(package, "invoicing").get("label"),
        f"{prefix}documents": _feature(package, "document_exchange").get("label"),
        f"{prefix}backup": _feature(package, "backup").get("label"),
    }


def catalogue_packages(catalogue: Any) -> List[Dict[str, Any]]:
    packages = catalogue.get("packages") if isinstance(catalogue, dict) else None
    if not isinstance(packages, list):
        return []
    valid = [p for p in packages if isinstance(p, dict) and isinstance(p.get("code"), str)]
    return sorted(valid, key=lambda p: p.get("position") or 0)


def _by_code(packages: List[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    return {p["code"]: p for p in packages}


def package_buttons(packages: List[Dict[str, Any]], intent: str) -> List[Dict[str, str]]:
    return [
        {
            "title": p.get("display_name") or p.get("name") or p["code"],
            "payload": f'/{intent}{{"package":"{p["code"]}"}}',
        }
        for p in packages
    ]


# What a question is about, from its words (lower case, without diacritics). A specific column
# wins over the price ("ile dokumentów..." is about documents); several topics or none: the
# whole description.
_TOPICS: Tuple[Tuple[str, "re.Pattern[str]"], ...] = tuple(
    (topic, re.compile(pattern))
    for topic, pattern in (
        ("trial", r"probn|testow|wyprob|\btrial|na probe"),
        ("users", r"uzytkownik|\bosob|\bpracownik"),
        ("documents", r"dokument|\biwd\b|wymian"),
        ("invoicing", r"faktur"),
        ("backup", r"\bkopi|backup|\bgb\b|miejsc"),
    )
)
_PRICE = re.compile(
    r"\bcen|\bkoszt|\bile\b|\bzl\b|netto|brutto|\bvat\b|\bdrog|\btan|\bplac|\bplat|\boplat"
    r"|darmo|bezplat|\bfree\b|\bprice|zaplac|doplac|\bzwrot|pieniadz|\bkas[aey]\b"
)
# How a price question asks (on top of its topic): per month, with or without VAT, or what a
# change to the package would cost.
_MONTHLY = re.compile(r"miesi|\bmc\b|\bmsc\b|\bmies\b|\bmonth")
_VAT = re.compile(r"\bvat|netto|brutto|podat")
_GROSS = re.compile(r"\bvat|brutto|podat")
_CHANGE = re.compile(r"przejs|przejd|przesi|zmian|zmieni|upgrad|podwyz|podnie|doplac")
# Amounts as people write them: "799", "799 zł", "982,77", "1 299,00 zł".
_AMOUNT = re.compile(r"(?<![\d,.])(\d{1,3}(?: \d{3})+|\d+)(?:[,.](\d{1,2}))?(?![\d])")

# What the latest answer was about (slot `packages_topic`) and which packages it named (slot
# `packages_discussed`): "a srebrny?", "ile miesięcznie?", "a z VAT?" right after it are
# answered about the same thing.
TOPIC_SLOT = "packages_topic"
DISCUSSED_SLOT = "packages_discussed"
# Topics a package named alone ("a srebrny?") is asked about again.
_REPEATABLE = ("price", "gross", "monthly", "change", "documents", "invoicing", "backup")


def question_topics(text: Any) -> List[str]:
    plain = fold(text)
    topics = [topic for topic, pattern in _TOPICS if pattern.search(plain)]
    if not topics and _PRICE.search(plain):
        topics = ["price"]
    return topics


def price_aspects(text: Any) -> List[str]:
    """"monthly", "vat", "change": how a question about prices asks."""
    plain = fold(text)
    aspects = []
    if _MONTHLY.search(plain):
        aspects.append("monthly")
    if _VAT.search(plain):
        aspects.append("vat")
    if _CHANGE.search(plain) and _PRICE.search(plain):
        aspects.append("change")
    return aspects


def mentioned_amounts(text: Any) -> List[int]:
    """Amounts in a message, in grosze ("cena 799 zł" -> [79900])."""
    if not isinstance(text, str):
        return []
    amounts = []
    for whole, fraction in _AMOUNT.findall(text):
        grosze = int(whole.replace(" ", "")) * 100
        if fraction:
            grosze += int(fraction.ljust(2, "0"))
        amounts.append(grosze)
    return amounts


def mentioned_packages(tracker: Tracker) -> List[str]:
    """The packages named in the latest message, in order, each once."""
    codes: List[str] = []
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if not isinstance(entity, dict) or entity.get("entity") != PACKAGE_ENTITY:
            continue
        code = package_code(entity.get("value"))
        if code and code not in codes:
            codes.append(code)
    return codes


def answered_just_before(tracker: Tracker) -> bool:
    """Whether the assistant's last action before the latest message was a price-list answer
    (so the message follows up on it)."""
    return action_before_latest_message(tracker) == "action_packages_info"


def _context(tracker: Tracker) -> Tuple[Optional[str], List[str]]:
    """(topic, package codes) of the answer the latest message follows up on."""
    if not answered_just_before(tracker):
        return None, []
    topic = tracker.get_slot(TOPIC_SLOT)
    discussed = tracker.get_slot(DISCUSSED_SLOT)
    codes = [c for c in discussed if package_code(c) == c] if isinstance(discussed, list) else []
    return (topic if isinstance(topic, str) else None), codes


class ActionPackagesInfo(Action):
    def name(self) -> Text:
        return "action_packages_info"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        try:
            catalogue = await get_backend_client().packages()
        except (BackendUnavailable, BackendError) as exc:
            logger.warning("packages info: price list unavailable (%s)", type(exc).__name__)
            dispatcher.utter_message(response="utter_packages_unavailable")
            return self._remember(None, [])
        packages = catalogue_packages(catalogue)
        if not packages:
            logger.error("packages info: empty price list")
            dispatcher.utter_message(response="utter_packages_unavailable")
            return self._remember(None, [])
        by_code = _by_code(packages)
        text = (tracker.latest_message or {}).get("text")
        codes = [code for code in mentioned_packages(tracker) if code in by_code]
        topics = question_topics(text)
        aspects = price_aspects(text)

        # A follow-up: what it leaves out comes from the answer just given.
        context_topic, context_codes = _context(tracker)
        if not codes and (topics or aspects):
            codes = [code for code in context_codes if code in by_code]
        if codes and not topics and not aspects and context_topic in _REPEATABLE:
            topics = [context_topic]
        if context_topic == "monthly" and "vat" in aspects and topics in ([], ["price"]):
            aspects.append("monthly")  # "a z VAT?" after the monthly prices
        named = [by_code[code] for code in codes]

        topic = self._answer(dispatcher, tracker, packages, named, topics, aspects, text)
        return self._remember(topic, [p["code"] for p in named])

    @staticmethod
    def _remember(topic: Optional[str], codes: List[str]) -> List[EventType]:
        return [SlotSet(TOPIC_SLOT, topic), SlotSet(DISCUSSED_SLOT, codes or None)]

    def _answer(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        packages: List[Dict[str, Any]],
        named: List[Dict[str, Any]],
        topics: List[str],
        aspects: List[str],
        text: Any,
    ) -> Optional[str]:
        """Utters the answer; returns its topic (for the follow-ups). A package the answer
        found by itself (an amount of its price) is added to `named`."""
        if "trial" in topics:
            self._trial(dispatcher, packages)
            return "trial"
        if "users" in topics:
            dispatcher.utter_message(response="utter_packages_users")
            return "users"
        price_question = not topics or topics == ["price"]
        if price_question and "change" in aspects:
            return self._change_cost(dispatcher, named)
        if price_question and "monthly" in aspects:
            for package in named or [p for p in packages if _price(p).get("net_grosze")]:
                self._monthly(dispatcher, package)
            return "monthly"
        if price_question and "vat" in aspects:
            return self._vat(dispatcher, packages, named, text)
        if len(named) == 1:
            return self._one(dispatcher, named[0], topics)
        if len(named) == 2:
            first, second = sorted(named, key=lambda p: p.get("position") or 0)
            dispatcher.utter_message(
                response="utter_packages_compare",
                **package_values(first, "a_"),
                **package_values(second, "b_"),
            )
            return "compare"
        asking_package = (
            tracker.active_loop_name == CHANGE_PACKAGE_FORM
            and tracker.get_slot(REQUESTED_SLOT) == PACKAGE_SLOT
        )
        self._overview(dispatcher, packages, question=not asking_package)
        return "overview"

    @staticmethod
    def _one(
        dispatcher: CollectingDispatcher, package: Dict[str, Any], topics: List[str]
    ) -> str:
        values = package_values(package)
        topic = topics[0] if len(topics) == 1 else None
        if topic == "price":
            free = _price(package).get("net_grosze") == 0
            response = "utter_package_price_free" if free else "utter_package_price"
        elif topic in ("documents", "invoicing", "backup"):
            response = f"utter_package_{topic}"
        else:
            response = "utter_package_details"
        dispatcher.utter_message(response=response, **values)
        return topic or "details"

    @staticmethod
    def _monthly(dispatcher: CollectingDispatcher, package: Dict[str, Any]) -> None:
        monthly = package.get("monthly_price")
        if not isinstance(monthly, dict) or not monthly.get("net_grosze"):
            free = _price(package).get("net_grosze") == 0
            response = "utter_package_price_free" if free else "utter_package_price"
            dispatcher.utter_message(response=response, **package_values(package))
            return
        dispatcher.utter_message(
            response="utter_package_price_monthly",
            monthly_net=monthly.get("net"),
            monthly_gross=monthly.get("gross"),
            **package_values(package),
        )

    @staticmethod
    def _vat(
        dispatcher: CollectingDispatcher,
        packages: List[Dict[str, Any]],
        named: List[Dict[str, Any]],
        text: Any,
    ) -> str:
        # "czy 799 zł to z VAT?": the amount is one of the prices - say which one it is
        for amount in mentioned_amounts(text):
            for package in named or packages:
                price = _price(package)
                if not amount:
                    continue
                for kind in ("net", "gross"):
                    if price.get(f"{kind}_grosze") == amount:
                        if package not in named:
                            named.append(package)  # the follow-ups are about it
                        dispatcher.utter_message(
                            response=f"utter_package_amount_{kind}",
                            amount=price.get(kind),
                            **package_values(package),
                        )
                        return "gross"
        if named:
            # "a netto?" leads with the net price, anything about VAT / gross with the gross one
            plain = fold(text)
            paid_response = (
                "utter_package_price_gross" if _GROSS.search(plain) else "utter_package_price"
            )
            for package in named:
                free = _price(package).get("net_grosze") == 0
                response = "utter_package_price_free" if free else paid_response
                dispatcher.utter_message(response=response, **package_values(package))
            return "gross"
        dispatcher.utter_message(
            response="utter_packages_vat", vat_percent=_price(packages[0]).get("vat_percent")
        )
        for package in packages:
            if _price(package).get("net_grosze"):
                dispatcher.utter_message(
                    response="utter_package_price_gross", **package_values(package)
                )
        return "gross"

    @staticmethod
    def _change_cost(dispatcher: CollectingDispatcher, named: List[Dict[str, Any]]) -> str:
        for package in named:
            free = _price(package).get("net_grosze") == 0
            response = "utter_package_price_free" if free else "utter_package_price"
            dispatcher.utter_message(response=response, **package_values(package))
        dispatcher.utter_message(response="utter_package_change_cost")
        return "change"

    @staticmethod
    def _overview(
        dispatcher: CollectingDispatcher, packages: List[Dict[str, Any]], question: bool = True
    ) -> None:
        """The price list; with the closing question and buttons unless a form asks next."""
        common = all(
            (p.get("features") or {}).get(key) is True
            for p in packages
            for key in ("offer_database", "business_card", "portal_promotion")
        )
        dispatcher.utter_message(
            response="utter_packages_overview" if common else "utter_packages_overview_plain"
        )
        for package in packages:
            dispatcher.utter_message(response="utter_package_summary", **package_values(package))
        vat = _price(packages[0]).get("vat_percent")
        if question:
            dispatcher.utter_message(
                response="utter_packages_overview_question",
                vat_percent=vat,
                buttons=package_buttons(packages, "packages_info"),
            )
        else:
            dispatcher.utter_message(response="utter_packages_overview_vat", vat_percent=vat)

    @staticmethod
    def _trial(dispatcher: CollectingDispatcher, packages: List[Dict[str, Any]]) -> None:
        free = [p for p in packages if _price(p).get("net_grosze") == 0]
        paid = [p for p in packages if _price(p).get("net_grosze")]
        trial_days = max(
            [
                days
                for p in packages
                for days in (
                    _feature(p, "document_exchange").get("trial_days"),
                    _feature(p, "invoicing").get("days"),
                )
                if isinstance(days, int)
            ]
            or [None],
            key=lambda d: d or 0,
        )
        if not free or not paid or trial_days is None:
            dispatcher.utter_message(response="utter_packages_trial_general")
            return
        dispatcher.utter_message(
            response="utter_packages_trial",
            free_name=free[0].get("name"),
            paid_names=" i ".join(p.get("name") for p in paid),
            trial_days=trial_days,
        )


# --- change_package_form ----------------------------------------------------------------------


class ValidateChangePackageForm(ConfirmedFormValidator, VerifiedIdentityValidator):
    # "tak" approves the package the confirmation question named (actions/confirmation.py)
    confirmed_slots = (PACKAGE_SLOT,)

    def form_name(self) -> Text:
        return CHANGE_PACKAGE_FORM

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        events: List[EventType] = []
        if tracker.get_slot(REQUESTED_SLOT) is None and tracker.get_slot(BLOCKED_SLOT) is not None:
            tracker.slots[BLOCKED_SLOT] = None
            events.append(SlotSet(BLOCKED_SLOT, None))
        intent = latest_intent(tracker)
        if (
            tracker.get_slot(REQUESTED_SLOT) == PACKAGE_SLOT
            and intent in PACKAGE_HELP_INTENTS
            and tracker.slots_to_validate().get(PACKAGE_SLOT) is None
        ):
            # "nie wiem" gets the comparison, a bare "nie" how to stop; the form goes on and
            # asks for the package again (only an explicit stop ends it).
            if intent == "dont_know":
                await _show_comparison(dispatcher)
            else:
                dispatcher.utter_message(response="utter_package_change_keep_going")
            return events + [SlotSet(PACKAGE_SLOT, None), SlotSet(REQUESTED_SLOT, PACKAGE_SLOT)]
        return events + await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        if tracker.get_slot(BLOCKED_SLOT):
            return []  # nothing to ask: action_change_package says why
        return await super().required_slots(domain_slots, dispatcher, tracker, domain)

    async def extract_package(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        """Two packages in one message ("złoty, zmiana z zielonego"): the mapping takes one of
        them; the words around them say which is wanted."""
        if latest_intent(tracker) == "packages_info":
            return {}
        wanted = wanted_package(
            tracker.latest_message.get("text"), tracker.latest_message.get("entities") or []
        )
        return {PACKAGE_SLOT: wanted} if wanted else {}

    async def validate_package(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        code = package_code(slot_value)
        if code is None:
            return self.reject(dispatcher, PACKAGE_SLOT, "utter_package_unknown")
        # a new choice needs a new "yes"
        return {PACKAGE_SLOT: code, CONFIRMATION_SLOT: None}

    async def validate_confirmation(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if isinstance(slot_value, bool):
            return {CONFIRMATION_SLOT: slot_value}
        return {CONFIRMATION_SLOT: None}


# Intents that answer no question while the package is asked for ("nie wiem", "nie").
PACKAGE_HELP_INTENTS = ("dont_know", "deny")


async def _show_comparison(dispatcher: CollectingDispatcher) -> None:
    """The price list, without its closing question (the form asks for the package next)."""
    try:
        packages = catalogue_packages(await get_backend_client().packages())
    except (BackendUnavailable, BackendError) as exc:
        logger.warning("change package: price list unavailable (%s)", type(exc).__name__)
        packages = []
    if not packages:
        dispatcher.utter_message(response="utter_packages_unavailable")
        return
    ActionPackagesInfo._overview(dispatcher, packages, question=False)


def _change_refusal(error: BackendError) -> str:
    return refusal_status(error, _CHANGE_REFUSALS)


async def _subscription_for_change(
    tracker: Tracker,
) -> Tuple[Optional[str], Dict[str, Any], List[Dict[str, Any]]]:
    """(refusal, subscription, price list) for the package question."""

    async def load(grant: str) -> Tuple[Any, List[Dict[str, Any]]]:
        client = get_backend_client()
        return await client.subscription(grant), catalogue_packages(await client.packages())

    refusal, loaded = await call_with_grant(tracker, "change package", load, _change_refusal)
    if refusal is not None:
        return refusal, {}, []
    subscription, packages = loaded
    if not packages or not isinstance(subscription, dict):
        return PackageChangeStatus.FAILED, {}, []
    if subscription.get("can_change") is not True:
        return PackageChangeStatus.NOT_OWNER, subscription, packages
    return None, subscription, packages


def _end_form(refusal: str) -> List[EventType]:
    """Ends the form without a question; action_change_package reports `refusal`."""
    forget = identity_expired_events() if refusal == PackageChangeStatus.IDENTITY_EXPIRED else []
    return forget + [SlotSet(BLOCKED_SLOT, refusal), SlotSet(REQUESTED_SLOT, None)]


def _code_of(package: Any) -> Optional[str]:
    return package.get("code") if isinstance(package, dict) else None


class ActionAskChangePackageFormPackage(Action):
    """Asks which package, showing the current one; buttons for the others."""

    def name(self) -> Text:
        return "action_ask_change_package_form_package"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        refusal, subscription, packages = await _subscription_for_change(tracker)
        if refusal is not None:
            return _end_form(refusal)
        current = subscription.get("package") or {}
        pending = subscription.get("pending_downgrade") or {}
        pending_package = pending.get("package") if isinstance(pending, dict) else None
        values = {
            "current_name": current.get("name"),
            "valid_until": format_iso_date(subscription.get("valid_until")),
        }
        if pending_package:
            # the current package stays on the buttons: choosing it cancels the downgrade
            dispatcher.utter_message(
                response="utter_ask_change_package_form_package_pending",
                pending_name=pending_package.get("name"),
                pending_from=format_iso_date(pending.get("effective_from")),
                buttons=package_buttons(packages, "inform"),
                **values,
            )
        else:
            others = [p for p in packages if p["code"] != _code_of(current)]
            dispatcher.utter_message(
                response="utter_ask_change_package_form_package_current",
                buttons=package_buttons(others, "inform"),
                **values,
            )
        return []


def confirmation_question(quote: Any) -> Tuple[Optional[str], Dict[str, Any]]:
    """The confirmation question for the backend's quote of the change, and its values (the
    amounts are the quote's: what the change will charge); (None, {}) for an unusable quote."""
    if not isinstance(quote, dict):
        return None, {}
    current, new = quote.get("current_package") or {}, quote.get("new_package") or {}
    payment = quote.get("payment") or {}
    change = quote.get("change")
    values: Dict[str, Any] = {
        "current_name": current.get("name"),
        "new_name": new.get("name"),
        "valid_until": format_iso_date(quote.get("valid_until")),
        "price_net": _price(new).get("net"),
        "price_gross": _price(new).get("gross"),
    }
    charged = {"amount_net": payment.get("net"), "amount_gross": payment.get("gross")}
    if change in ("order", "upgrade") and None in charged.values():
        return None, {}
    if change == "order":
        values.update(
            charged,
            paid_from=format_iso_date(payment.get("period_start")),
            paid_until=format_iso_date(payment.get("period_end")),
        )
        return "utter_ask_change_package_form_confirmation_order", values
    if change == "upgrade":
        return "utter_ask_change_package_form_confirmation_upgrade", {**values, **charged}
    if change == "downgrade_cancelled":
        values["pending_name"] = (quote.get("cancelled_package") or {}).get("name")
        return "utter_ask_change_package_form_confirmation_keep", values
    if change == "downgrade_scheduled":
        values.update(
            effective_from=format_iso_date(quote.get("effective_from")),
            new_invoicing=_feature(new, "invoicing").get("label"),
            new_documents=_feature(new, "document_exchange").get("label"),
            new_backup=_feature(new, "backup").get("label"),
        )
        trial = "_trial" if quote.get("in_trial") else ""
        return f"utter_ask_change_package_form_confirmation_downgrade{trial}", values
    return None, {}


class ActionAskChangePackageFormConfirmation(Action):
    """States what the change will do and cost (the backend's quote), then asks "tak / nie";
    ends the form at once when the change cannot be made."""

    def name(self) -> Text:
        return "action_ask_change_package_form_confirmation"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        package = package_code(tracker.get_slot(PACKAGE_SLOT))
        if package is None:
            return _end_form(PackageChangeStatus.FAILED)
        refusal, quote = await call_with_grant(
            tracker,
            self.name(),
            lambda grant: get_backend_client().quote_package_change(grant, package),
            _change_refusal,
        )
        if refusal is not None:
            return _end_form(refusal)
        response, values = confirmation_question(quote)
        if response is None:
            logger.error("change package: unusable quote")
            return _end_form(PackageChangeStatus.FAILED)
        dispatcher.utter_message(response=response, **values)
        return []


class ActionChangePackage(GrantedOperation):
    status_slot = PACKAGE_CHANGE_STATUS_SLOT
    reply_slots = CHANGE_VALUE_SLOTS
    form_slots = (PACKAGE_SLOT, CONFIRMATION_SLOT, BLOCKED_SLOT)
    refusals = _CHANGE_REFUSALS

    def name(self) -> Text:
        return "action_change_package"

    def settled(self, tracker: Tracker) -> Optional[Text]:
        blocked = tracker.get_slot(BLOCKED_SLOT)
        if blocked:
            return blocked
        confirmed = tracker.get_slot(CONFIRMATION_SLOT)
        if confirmed is False:
            return PackageChangeStatus.CANCELLED
        if confirmed is not True or package_code(tracker.get_slot(PACKAGE_SLOT)) is None:
            logger.error("change package: the form ended without a confirmed package")
            return PackageChangeStatus.FAILED
        return None

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        package = package_code(tracker.get_slot(PACKAGE_SLOT))
        key = idempotency_key(tracker, "change_package", package)
        result = await get_backend_client().change_package(grant, package, key)
        change = result.get("change") if isinstance(result, dict) else None
        status = _CHANGE_OUTCOMES.get(change)
        if status is None:
            logger.error("change package: unexpected answer %r", change)
            return PackageChangeStatus.FAILED, {}
        logger.info("package change done: %s", change)
        subscription = result.get("subscription") or {}
        payment = result.get("payment") or {}
        warnings = [
            w.get("message") for w in result.get("warnings") or [] if isinstance(w, dict)
        ]
        names = await _package_names(subscription)
        return status, {
            CHANGE_TO_SLOT: names.get(result.get("to_package")),
            CHANGE_FROM_SLOT: names.get(result.get("from_package")),
            CHANGE_DATE_SLOT: format_iso_date(result.get("effective_from")),
            CHANGE_VALID_UNTIL_SLOT: format_iso_date(subscription.get("valid_until")),
            CHANGE_NET_SLOT: payment.get("net"),
            CHANGE_GROSS_SLOT: payment.get("gross"),
            # complete sentences from the backend, one per line ("" when there are none)
            CHANGE_WARNINGS_SLOT: "\n".join(f"- {w}" for w in warnings if isinstance(w, str)),
        }


async def _package_names(subscription: Dict[str, Any]) -> Dict[str, str]:
    """code -> name, from the price list (the subscription embeds only some packages)."""
    names: Dict[str, str] = {}
    for package in (
        subscription.get("package"),
        (subscription.get("pending_downgrade") or {}).get("package"),
    ):
        if isinstance(package, dict) and isinstance(package.get("code"), str):
            names[package["code"]] = package.get("name")
    try:
        for package in catalogue_packages(await get_backend_client().packages()):
            names[package["code"]] = package.get("name")
    except (BackendUnavailable, BackendError) as exc:
        logger.warning("change package: price list unavailable (%s)", type(exc).__name__)
    return names


# --- account_status_form ----------------------------------------------------------------------


class ValidateAccountStatusForm(VerifiedIdentityValidator):
    def form_name(self) -> Text:
        return ACCOUNT_STATUS_FORM


class ActionAccountStatus(GrantedOperation):
    status_slot = ACCOUNT_STATUS_SLOT
    reply_slots = ACCOUNT_VALUE_SLOTS
    refusals = {"subscription_not_found": AccountStatusResult.NO_SUBSCRIPTION}

    def name(self) -> Text:
        return "action_account_status"

    async def perform(self, grant: str, tracker: Tracker) -> Outcome:
        subscription = await get_backend_client().subscription(grant)
        if not isinstance(subscription, dict) or not isinstance(subscription.get("package"), dict):
            logger.error("account status: unexpected answer")
            return AccountStatusResult.FAILED, {}
        usage = subscription.get("document_exchange") or {}
        pending = subscription.get("pending_downgrade") or {}
        limit = usage.get("limit")
        values = {
            "account_organisation": (subscription.get("organisation") or {}).get("name"),
            "account_package": subscription["package"].get("name"),
            "account_valid_until": format_iso_date(subscription.get("valid_until")),
            "account_pending_package": (pending.get("package") or {}).get("name"),
            "account_pending_from": format_iso_date(pending.get("effective_from")),
            "account_iwd_year": _text(usage.get("year")),
            "account_iwd_used": _text(usage.get("used")),
            "account_iwd_limit": _text(limit),
            "account_iwd_remaining": _text(usage.get("remaining")),
            "account_iwd_unlimited": limit is None,
        }
        if subscription.get("in_trial") and pending:
            return AccountStatusResult.TRIAL, values
        if pending:
            return AccountStatusResult.PENDING_DOWNGRADE, values
        return AccountStatusResult.ACTIVE, values


def _text(value: Any) -> Optional[str]:
    return None if value is None else str(value)
