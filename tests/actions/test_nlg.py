"""The most specific matching response variation wins (bot/rasa_ext/nlg.py), without a model:
the generator built from the real domain, a tracker with slots set."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.rasa_ext.nlg import SpecificResponseGenerator

REPO_ROOT = Path(__file__).resolve().parents[2]
NLG_TYPE = "bot.rasa_ext.nlg.SpecificResponseGenerator"


def _load_domain() -> Domain:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Domain.load(str(REPO_ROOT / "domain"))


DOMAIN = _load_domain()


def tracker(**slots) -> DialogueStateTracker:
    state = DialogueStateTracker.from_events("register-test", [], slots=DOMAIN.slots)
    for name, value in slots.items():
        state.update(SlotSet(name, value))
    return state


def generator() -> NaturalLanguageGenerator:
    # as Rasa builds it from `nlg: type: …` in endpoints.yml
    return NaturalLanguageGenerator.create(EndpointConfig(type=NLG_TYPE), DOMAIN)


async def texts(action: str, runs: int = 30, channel: str = "rest", **slots) -> set:
    nlg, state = generator(), tracker(**slots)
    return {(await nlg.generate(action, state, channel))["text"] for _ in range(runs)}


def test_rasa_builds_it_from_the_endpoint_config():
    nlg = generator()
    assert isinstance(nlg, SpecificResponseGenerator)
    assert nlg.responses is DOMAIN.responses or nlg.responses == DOMAIN.responses


@pytest.mark.parametrize("reason", ["lost", "stolen"])
async def test_lost_device_that_was_found_gets_the_immediate_question_only(reason):
    answers = await texts(
        "utter_ask_remove_device_form_confirmation",
        device_found=True, device_reason=reason, device_name="Pixel 7", device_platform="Android",
    )
    assert len(answers) == 1
    (answer,) = answers
    assert answer.startswith("Usunąć od razu urządzenie „Pixel 7” (Android)")


async def test_found_device_without_a_reason_gets_the_ordinary_question():
    answers = await texts(
        "utter_ask_remove_device_form_confirmation",
        device_found=True, device_name="Pixel 7", device_platform="Android",
    )
    assert len(answers) == 1 and next(iter(answers)).startswith("Czy na pewno usunąć urządzenie „Pixel 7”")


def test_channel_variations_are_preferred_as_rasa_does():
    responses = {
        "utter_x": [
            {"text": "plain"},
            {"text": "formal", "condition": [{"type": "slot", "name": "register", "value": "formal"}]},
            {"text": "formal-web", "channel": "web",
             "condition": [{"type": "slot", "name": "register", "value": "formal"}]},
            {"text": "web", "channel": "web"},
            {"text": "formal-found", "condition": [
                {"type": "slot", "name": "register", "value": "formal"},
                {"type": "slot", "name": "device_found", "value": True}]},
        ]
    }
    nlg = SpecificResponseGenerator(responses=responses)
    pick = lambda channel, **slots: nlg._random_response_for("utter_x", channel, slots)["text"]
    assert pick("web", register="formal", device_found=True) == "formal-web"
    assert pick("web", register="informal") == "web"
    assert pick("rest", register="formal", device_found=True) == "formal-found"
    assert pick("rest", register="formal", device_found=False) == "formal"
    assert pick("rest", register="informal") == "plain"
    assert nlg._random_response_for("utter_missing", "rest", {}) is None


def test_every_endpoints_file_uses_it():
    assert read_endpoint_config(str(REPO_ROOT / "endpoints.yml"), "nlg").type == NLG_TYPE
    # ${…} values there are expanded only with the scaled stack's environment: read it as YAML
    scaled = yaml.safe_load((REPO_ROOT / "deploy/scaled/endpoints.yml").read_text())
    assert scaled["nlg"]["type"] == NLG_TYPE


def test_cluster_and_harness_endpoints_use_it():
    configmaps = [d for d in yaml.safe_load_all((REPO_ROOT / "deploy/config.yaml").read_text())
                  if d and d.get("metadata", {}).get("name") == "rasa-endpoints"]
    (configmap,) = configmaps
    assert yaml.safe_load(configmap["data"]["endpoints.yml"])["nlg"]["type"] == NLG_TYPE
    for script in ("harness/stack.py", "scripts/profile_turn.py"):
        assert f"type: {NLG_TYPE}" in (REPO_ROOT / script).read_text(), script
async def test_formal_register_gets_the_formal_variation_only():
    informal = await texts("utter_goodbye")
    formal = await texts("utter_goodbye", register="formal")
    assert formal and not formal & informal
    assert await texts("utter_goodbye", register="informal") == informal
    # a response without "Ty" forms has no formal twin: the same text in both registers
    assert await texts("utter_greet", register="formal") == await texts("utter_greet")


async def test_formal_register_with_other_conditions_gets_the_most_specific_formal_twin():
    slots = dict(device_found=True, device_reason="lost", device_name="Pixel 7",
                 device_platform="Android")
    informal = await texts("utter_ask_remove_device_form_confirmation", **slots)
    formal = await texts("utter_ask_remove_device_form_confirmation", register="formal", **slots)
    assert len(formal) == 1 and not formal & informal
    (answer,) = formal
    assert "„Pixel 7” (Android)" in answer and "Twoje" not in answer and "Twoich" not in answer




# --- a company user without a name (invited by e-mail and role only) ---------------------------

T = "t.wrona@majafirma.pl"


@pytest.mark.parametrize("register", ["informal", "formal"])
async def test_add_user_summary_with_and_without_a_name(register):
    common = dict(register=register, member_email=T, role_label="pracownik")
    named = await texts("utter_ask_add_user_form_confirmation", person_name="Tomasz Wrona",
                        **common)
    assert len(named) == 1 and next(iter(named)).startswith(
        f"Dodać użytkownika Tomasz Wrona ({T}) z rolą „pracownik”?"
    )
    nameless = await texts("utter_ask_add_user_form_confirmation", **common)
    assert len(nameless) == 1
    (answer,) = nameless
    assert answer.startswith(f"Dodać użytkownika {T} z rolą „pracownik”?")
    assert "None" not in answer and "imię i nazwisko poda przy aktywacji" in answer


@pytest.mark.parametrize("action", ["utter_add_user_invited", "utter_add_user_added"])
async def test_add_user_outcome_names_the_address_alone_without_a_name(action):
    common = dict(member_address=T, role_label="magazynier")
    (named,) = await texts(action, member_name="Tomasz Wrona", **common)
    assert named.startswith(f"Gotowe – dodałem użytkownika Tomasz Wrona ({T}) z rolą „magazynier”.")
    (nameless,) = await texts(action, **common)
    assert nameless.startswith(f"Gotowe – dodałem użytkownika {T} z rolą „magazynier”.")
    assert "None" not in nameless


@pytest.mark.parametrize("register", ["informal", "formal"])
@pytest.mark.parametrize(
    ("action", "slots", "named", "nameless"),
    [
        ("utter_ask_change_role_form_role", {},
         "Jaką nową rolę ma mieć Ewa Lis?", f"Jaką nową rolę ma mieć użytkownik {T}?"),
        ("utter_ask_change_role_form_confirmation",
         {"member_role_label": "pracownik", "role_label": "magazynier"},
         f"Zmienić rolę użytkownika Ewa Lis ({T}) z „pracownik” na „magazynier”?",
         f"Zmienić rolę użytkownika {T} z „pracownik” na „magazynier”?"),
        ("utter_ask_remove_user_form_confirmation", {"member_role_label": "pracownik"},
         f"Usunąć użytkownika Ewa Lis ({T}, rola „pracownik”) z firmy?",
         f"Usunąć użytkownika {T} (rola „pracownik”) z firmy?"),
        ("utter_ask_change_login_email_form_confirmation", {"new_email": "nowy@majafirma.pl"},
         f"Zmienić adres do logowania użytkownika Ewa Lis z {T} na nowy@majafirma.pl?",
         f"Zmienić adres do logowania użytkownika {T} na nowy@majafirma.pl?"),
        ("utter_change_role_changed", {"role_label": "magazynier"},
         f"Gotowe – użytkownik Ewa Lis ({T}) ma teraz rolę „magazynier”.",
         f"Gotowe – użytkownik {T} ma teraz rolę „magazynier”."),
        ("utter_change_role_unchanged", {"role_label": "magazynier"},
         "Użytkownik Ewa Lis ma już rolę „magazynier”",
         f"Użytkownik {T} ma już rolę „magazynier”"),
        ("utter_remove_user_removed", {},
         f"Gotowe – użytkownik Ewa Lis ({T}) nie ma już dostępu do",
         f"Gotowe – użytkownik {T} nie ma już dostępu do"),
        ("utter_change_login_email_member_not_active", {},
         "Użytkownik Ewa Lis jeszcze nie przyjął zaproszenia",
         f"Użytkownik {T} jeszcze nie przyjął zaproszenia"),
        ("utter_change_login_email_self_only", {},
         "Użytkownik Ewa Lis ma dostęp także do innej firmy",
         f"Użytkownik {T} ma dostęp także do innej firmy"),
    ],
)
async def test_a_member_without_a_name_is_named_by_the_address(
    action, slots, named, nameless, register
):
    common = dict(register=register, member_email=T, member_address=T, **slots)
    with_name = await texts(action, member_name="Ewa Lis", **common)
    without = await texts(action, **common)
    assert len(with_name) == len(without) == 1
    assert next(iter(with_name)).startswith(named)
    (answer,) = without
    assert answer.startswith(nameless) and "None" not in answer
    if register == "formal":
        assert "Twojej" not in answer and "usuń" not in answer


@pytest.mark.parametrize("register", ["informal", "formal"])
async def test_ones_own_login_change_never_meets_the_nameless_variation(register):
    """The visitor's own address (member_is_self) without a name: the "own address" wording,
    never a random pick between it and the other member's."""
    slots = dict(register=register, member_is_self=True, member_email=T,
                 new_email="nowy@majafirma.pl")
    for action, expected in (
        ("utter_ask_change_login_email_form_confirmation", "adres do logowania z"),
        ("utter_ask_change_login_email_form_new_email", "nowy adres e-mail"),
    ):
        answers = await texts(action, **slots)
        assert len(answers) == 1, action
        (answer,) = answers
        assert expected in answer and "użytkownika" not in answer
