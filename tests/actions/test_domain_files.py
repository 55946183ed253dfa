"""The split domain (domain/<area>.yml) stays consistent across its files.

Rasa merges the files; what it cannot check is what the split repeats on purpose: the
identity-gated forms are named in the mappings of the shared identity slots (identity.yml), and
the `not_an_answer` intent list is written once per file (YAML anchors do not cross files).
"""

from pathlib import Path

import yaml

from bot.domain_files import DOMAIN_DIR, domain_files, load_domain

REPO_ROOT = Path(__file__).resolve().parents[2]
IDENTITY_SLOTS = ("verification_code",)


def _areas(directory: Path) -> set[str]:
    return {path.stem for path in directory.glob("*.yml")}


def test_every_domain_area_has_training_data_of_the_same_name():
    areas = _areas(DOMAIN_DIR) - {"identity"}
    assert areas <= _areas(REPO_ROOT / "data" / "nlu")


def identity_gated_forms(domain):
    return {
        name
        for name, form in domain["forms"].items()
        if "verification_code" in form.get("required_slots", [])
    }


def loops_of(mapping):
    return {condition["active_loop"] for condition in mapping.get("conditions", [])}


def test_identity_gated_forms_are_in_every_identity_mapping():
    domain = load_domain()
    gated = identity_gated_forms(domain)
    assert len(gated) >= 9
    email_mappings = domain["slots"]["email"]["mappings"]
    asked = [loops_of(m) for m in email_mappings if "conditions" in m]
    assert asked and all(gated <= loops for loops in asked)
    for slot in IDENTITY_SLOTS:
        for mapping in domain["slots"][slot]["mappings"]:
            assert loops_of(mapping) == gated, slot


def test_identity_gated_forms_ask_for_email_and_code_first():
    domain = load_domain()
    for name in identity_gated_forms(domain):
        assert domain["forms"][name]["required_slots"][:2] == ["email", "verification_code"], name


def test_every_copy_of_not_an_answer_is_the_same_list():
    lists = []
    for path in domain_files():
        slots = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("slots") or {}
        for slot in slots.values():
            for mapping in slot.get("mappings", []):
                if mapping["type"] == "from_text" and "not_intent" in mapping:
                    lists.append((path.name, tuple(mapping["not_intent"])))
    assert len({names for _, names in lists}) == 1, lists
    assert {"stop", "deny", "share_password"} <= set(lists[0][1])


def test_no_name_is_defined_in_two_files():
    seen = {}
    for path in domain_files():
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for section in ("intents", "slots", "forms", "responses", "actions"):
            for item in part.get(section) or []:
                name = item if isinstance(item, str) else next(iter(item))
                assert (section, name) not in seen, (path.name, seen.get((section, name)), name)
                seen[(section, name)] = path.name
