"""Every e-mail the backend sends, rendered for every package of the real (migrated) catalogue and
every kind of package change: correct Polish forms, nothing left unrendered, one shared footer.
Plus: backend/mail never imports backend/services (the builders take plain values)."""

from __future__ import annotations

import ast
import asyncio
import itertools
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from backend.db import create_engine, create_sessionmaker
from backend.mail import (
    builders,
    company_emails,
    device_emails,
    identity_emails,
    package_emails,
    registration_emails,
    support_emails,
)
from backend.mail.builders import EmailContent
from backend.mail.registration_emails import ActivationVariant
from backend.repositories import packages as package_queries
from backend.roles import ROLES
from backend.services.packages import PackageView, ProRata, Usage, downgrade_warnings, pro_rata
from tests.support.databases import fresh_database

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "backend" / "templates" / "email"
MAIL = ROOT / "backend" / "mail"
SERVICES = ROOT / "backend" / "services"

# The declension of the catalogue's names, written out here (not computed by backend/polish.py).
GENITIVE = {"zielony": "zielonego", "srebrny": "srebrnego", "złoty": "złotego"}
LOCATIVE = {"zielony": "zielonym", "srebrny": "srebrnym", "złoty": "złotym"}
FOOTER_TEXT = (
    "Pozdrawiamy\nZespół iKsięgowość24\n"
    "Pomoc: 32 356 22 23, wsparcie@ingksiegowosc.pl (pon.–pt. 8:00–18:00)\n"
)
A, B, N = "a@example.pl", "b@example.pl", "n@example.pl"
FOOTER_HTML = (
    'Pomoc: 32 356 22 23, <a href="mailto:wsparcie@ingksiegowosc.pl">wsparcie@ingksiegowosc.pl</a> '
    "(pon.–pt. 8:00–18:00)</p>"
)


async def _load_catalogue(tmp_path: Path) -> list[PackageView]:
    async with fresh_database(tmp_path) as url:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return [PackageView.of(row) for row in await package_queries.catalogue(session)]
        finally:
            await engine.dispose()


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory) -> list[PackageView]:
    packages = asyncio.run(_load_catalogue(tmp_path_factory.mktemp("catalogue")))
    assert [p.name for p in packages] == ["zielony", "srebrny", "złoty"]
    return packages


def check_rendered(email: EmailContent) -> None:
    """Nothing of the template language or of Python is left in what a person reads."""
    for part in (email.subject, email.text_body, email.html_body):
        for leftover in ("{{", "}}", "{%", "%}", "{", "}", "None", "Undefined", "[]", "()"):
            assert leftover not in part, (email.kind, leftover)
    for part in (email.subject, email.text_body):  # no gap where a value rendered as nothing
        assert not re.search(r" ,| \.\s|\S  \S|\( |\)\(", part), (email.kind, part)
    assert email.text_body.endswith(FOOTER_TEXT), email.kind
    assert email.text_body.count("Pozdrawiamy") == 1
    assert FOOTER_HTML in email.html_body and email.html_body.count("Pozdrawiamy") == 1
    assert f"<title>{email.subject}</title>" in email.html_body
    assert email.html_body.startswith("<!doctype html>") and email.html_body.endswith("</html>\n")


def check_package_forms(email: EmailContent) -> None:
    """No package name in a case it cannot stand in after the noun's form."""
    names = "|".join(GENITIVE)
    for part in (email.subject, email.text_body, email.html_body):
        plain = re.sub(r"</?strong>", "", part)
        assert not re.search(rf"\bpakietu ({names})\b", plain), (email.kind, plain)
        assert not re.search(rf"\b(pakiecie|pakietem) ({names})\b", plain), (email.kind, plain)
        assert not re.search(rf"\bz ({names}) na\b", plain), (email.kind, plain)


def facts(view: PackageView) -> package_emails.PackageFacts:
    return view.facts()


def payment_of(pro: ProRata) -> package_emails.Payment:
    return package_emails.Payment(
        net=pro.price.net, gross=pro.price.gross, vat_percent=pro.price.vat_percent,
        days=pro.days_remaining,
    )


Rendered = tuple[str, PackageView, PackageView, EmailContent]


def package_emails_for(catalogue: list[PackageView], name: str | None = "Jan") -> list[Rendered]:
    """Every change the rules allow between two catalogue packages, as its e-mail (to `name`)."""
    rendered = []
    valid_until = date(2027, 6, 30)
    for current, new in itertools.product(catalogue, repeat=2):
        common = dict(to_address="jan@example.pl", name=name, organisation="Majama Michał Zając")
        if new.position >= current.position and current.yearly_price.net_grosze > 0:
            # Ordering during a trial of a paid package (the tried one or a higher one).
            paid_until = date(2028, 2, 21)
            pro = pro_rata(new, new, date(2027, 2, 22), paid_until)
            payment = package_emails.Payment(
                net=new.yearly_price.net, gross=new.yearly_price.gross,
                vat_percent=new.yearly_price.vat_percent, days=pro.period_days,
            )
            email = package_emails.package_change(
                "order", **common, current=facts(current), new=facts(new), cancelled=None,
                in_trial=True, trial_until=date(2027, 2, 21), valid_until=paid_until,
                effective_from=date(2026, 12, 3), payment=payment, warnings=[],
            )
            rendered.append(("order", current, new, email))
        if new.position > current.position:
            for today in (date(2026, 9, 21), valid_until):  # many days left, and the last one
                email = package_emails.package_change(
                    "upgrade", **common, current=facts(current), new=facts(new), cancelled=None,
                    in_trial=False, trial_until=date(2026, 12, 1), valid_until=valid_until,
                    effective_from=today,
                    payment=payment_of(pro_rata(current, new, today, valid_until)),
                    warnings=[],
                )
                rendered.append(("upgrade", current, new, email))
        if new.position < current.position:
            for in_trial, used in ((False, 12), (True, 0), (False, 250)):
                usage = Usage(year=2026, used=used, limit=current.document_exchange_limit)
                warnings = [n.message for n in downgrade_warnings(current, new, usage)]
                email = package_emails.package_change(
                    "downgrade_scheduled", **common, current=facts(current), new=facts(new),
                    cancelled=None, in_trial=in_trial, trial_until=valid_until,
                    valid_until=valid_until, effective_from=valid_until + timedelta(days=1),
                    payment=None, warnings=warnings,
                )
                rendered.append(("downgrade_scheduled", current, new, email))
            # The owner chose the current package again: the scheduled downgrade is cancelled.
            email = package_emails.package_change(
                "downgrade_cancelled", **common, current=facts(current), new=facts(current),
                cancelled=facts(new), in_trial=False, trial_until=date(2026, 9, 1),
                valid_until=valid_until, effective_from=date(2026, 12, 3), payment=None,
                warnings=[],
            )
            rendered.append(("downgrade_cancelled", current, new, email))
    return rendered


def test_every_package_change_email_speaks_correct_polish(catalogue):
    rendered = package_emails_for(catalogue)
    assert {change for change, *_ in rendered} == set(package_emails.CHANGES)
    # 3 orders, 3 pairs × 2 upgrades, 3 pairs × 3 downgrades, 3 cancellations
    assert len(rendered) == 3 + 6 + 9 + 3
    for change, current, new, email in rendered:
        check_rendered(email)
        check_package_forms(email)
        text, html = email.text_body, email.html_body
        if change == "order":
            assert email.subject == f"Zamówienie pakietu {GENITIVE[new.name]} – iKsięgowość24"
            assert f"Dziękujemy za zamówienie pakietu {GENITIVE[new.name]} dla firmy" in text
            assert f"zamówienie pakietu <strong>{GENITIVE[new.name]}</strong>" in html
            assert f"W pakiecie {LOCATIVE[new.name]}:" in text
            assert f"W pakiecie {LOCATIVE[new.name]}:" in html
            price = new.yearly_price
            due = f"Do zapłaty: {price.net} netto ({price.gross} brutto, w tym 23% VAT) za rok"
            assert due in text
        elif change == "upgrade":
            assert email.subject == f"Zmiana pakietu na {new.name} – iKsięgowość24"
            assert f"z pakietu {GENITIVE[current.name]} na pakiet {new.name}." in text
            price = new.yearly_price.net
            assert f"Nowa cena pakietu {GENITIVE[new.name]}: {price} netto za rok" in text
            assert f"Nowa cena pakietu {GENITIVE[new.name]}:" in html
            assert f"W pakiecie {LOCATIVE[new.name]}:" in text
            assert re.search(r"Do zapłaty za (pozostały 1 dzień|pozostałe \d+ dni):", text)
        elif change == "downgrade_scheduled":
            assert email.subject == f"Zaplanowana zmiana pakietu na {new.name} – iKsięgowość24"
            assert f"z pakietu {GENITIVE[current.name]} na pakiet {new.name}." in text
            assert f"wybierz ponownie pakiet {current.name} –" in text
        else:
            assert email.subject == "Anulowana zmiana pakietu – iKsięgowość24"
            assert f"na pakiet {new.name} została anulowana" in text
            stays = f"zostaje przy pakiecie {LOCATIVE[current.name]}, opłaconym do 30.06.2027."
            assert stays in text
            assert f"przy pakiecie <strong>{LOCATIVE[current.name]}</strong>" in html
            price = current.yearly_price.net
            assert f"Cena pakietu {GENITIVE[current.name]}: {price} netto za rok" in text


def test_the_last_day_of_an_upgrade_is_one_day(catalogue):
    green, silver, _ = catalogue
    last_day = date(2027, 6, 30)
    email = package_emails.package_change(
        "upgrade", to_address="jan@example.pl", name="Jan", organisation="Firma",
        current=facts(green), new=facts(silver), cancelled=None, in_trial=False,
        trial_until=date(2026, 12, 1), valid_until=last_day, effective_from=last_day,
        payment=payment_of(pro_rata(green, silver, last_day, last_day)), warnings=[],
    )
    due = "Do zapłaty za pozostały 1 dzień: 0,82 zł netto (1,01 zł brutto, w tym 23% VAT)."
    assert due in email.text_body


def test_a_downgrade_notice_inflects_the_package_in_the_email(catalogue):
    green, silver, gold = catalogue
    usage = Usage(year=2026, used=12, limit=silver.document_exchange_limit)
    email = package_emails.package_change(
        "downgrade_scheduled", to_address="jan@example.pl", name="Jan", organisation="Firma",
        current=facts(silver), new=facts(green), cancelled=None, in_trial=False,
        trial_until=date(2026, 1, 1), valid_until=date(2027, 6, 30),
        effective_from=date(2027, 7, 1),
        payment=None, warnings=[n.message for n in downgrade_warnings(silver, green, usage)],
    )
    notice = "W pakiecie zielonym program do fakturowania jest dostępny tylko przez 90 dni."
    assert notice in email.text_body
    assert "- Pakiet zielony obejmuje wymianę do 10 dokumentów IWD" not in email.text_body
    assert "12 dokumentów IWD" in email.text_body


@pytest.mark.parametrize(
    ("ttl", "said"), [(1, "1 minutę"), (2, "2 minuty"), (10, "10 minut"), (60, "60 minut")]
)
def test_minutes_in_emails(ttl, said):
    for email in (
        builders.password_reset(to_address=A, name="Jan", link="https://x.pl/r", ttl_minutes=ttl),
        identity_emails.verification_code(
            to_address=A, name="Jan", code="123456", ttl_minutes=ttl
        ),
    ):
        check_rendered(email)
        assert f"ważny przez {said} i można go użyć tylko raz" in email.text_body
        assert f"ważny przez {said}" in email.html_body


@pytest.mark.parametrize(("ttl", "said"), [(1, "1 godzinę"), (24, "24 godziny"), (48, "48 godzin")])
def test_hours_in_emails(ttl, said):
    activation = registration_emails.activation(
        to_address="a@example.pl", name="Jan", variant=ActivationVariant.RESEND,
        link="https://x.pl/a?t=1", ttl_hours=ttl,
    )
    confirm = company_emails.email_change_confirm(
        to_address="new@example.pl", name="Jan", old_email="a@example.pl",
        link="https://x.pl/c?t=1", ttl_hours=ttl,
    )
    for email in (activation, confirm):
        check_rendered(email)
        assert f"ważny przez {said}" in email.text_body


def all_other_emails(
    catalogue: list[PackageView], jan: str | None = "Jan", ewa: str | None = "Ewa"
) -> list[EmailContent]:
    """Every other e-mail; `jan` and `ewa` are the names of the two accounts (None: none yet)."""
    owner, employee = ROLES["owner"], ROLES["employee"]
    emails = [
        builders.password_reset(to_address=A, name=jan, link="https://x.pl/r", ttl_minutes=60),
        builders.password_changed(to_address="a@example.pl", name=jan),
        identity_emails.verification_code(
            to_address=A, name=jan, code="123456", ttl_minutes=10
        ),
        device_emails.device_paired(
            to_address=A, name=jan, device_name="Pixel", platform="android"
        ),
        support_emails.ticket_received(to_address="a@example.pl", ticket_number="ZG-2026-0001"),
        support_emails.ticket_answered(
            to_address=A, ticket_number="ZG-2026-0001", answer="Dzień dobry."
        ),
        company_emails.invitation(
            to_address="b@example.pl", name=ewa, inviter_name="Jan", organisation_name="Firma",
            role=employee, link="https://x.pl/i", ttl_days=7,
        ),
        company_emails.member_added(
            to_address=B, name=ewa, inviter_name="Jan", organisation_name="Firma", role=employee,
        ),
        company_emails.role_changed(
            to_address=B, name=ewa, organisation_name="Firma", old_role=employee, new_role=owner,
        ),
        company_emails.member_removed(to_address=B, name=ewa, organisation_name="Firma"),
        company_emails.email_change_requested(
            to_address=A, name=jan, new_email=N, requested_by_self=True, ttl_hours=24,
        ),
        company_emails.email_change_requested(
            to_address=A, name=jan, new_email=N, requested_by_self=False, ttl_hours=24,
        ),
        company_emails.email_changed(to_address=A, name=jan, new_email="n@example.pl"),
        company_emails.email_change_confirm(
            to_address="n@example.pl", name=jan, old_email=A, link="https://x.pl/c", ttl_hours=24,
        ),
    ]
    for reason in device_emails.REMOVAL_REASONS:
        emails.append(device_emails.device_removed(
            to_address=A, name=jan, device_name="iPhone", platform="ios", reason=reason,
        ))
    for package, variant in itertools.product(catalogue, ActivationVariant):
        links = ("https://x.pl/a?t=1", None) if variant == ActivationVariant.EMAIL_TAKEN else (
            "https://x.pl/a?t=1",
        )
        for link in links:
            emails.append(registration_emails.activation(
                to_address="a@example.pl", name=jan, variant=variant, link=link,
                ttl_hours=48 if link else None, comarch_id="68577", package_name=package.name,
            ))
    return emails


def test_every_email_extends_the_base_and_is_fully_rendered(catalogue):
    emails = all_other_emails(catalogue) + [e for *_, e in package_emails_for(catalogue)]
    for email in emails:
        check_rendered(email)
        check_package_forms(email)
    # "_name" templates are parts that e-mails include (the password rules), not e-mails
    kinds = {path.stem for path in TEMPLATES.iterdir()
             if path.stem != "base" and not path.stem.startswith("_")}
    assert {email.kind for email in emails} == kinds
    for path in TEMPLATES.iterdir():
        source = path.read_text(encoding="utf-8")
        if path.stem == "base":
            continue
        if not path.stem.startswith("_"):
            assert source.startswith(f'{{% extends "base{path.suffix}" %}}\n'), path.name
        # The contacts are stated once, in common/contacts.py.
        facts_stated_once = (
            "32 356", "ingksiegowosc.pl", "iksiegowosc24.pl", "8:00", "Pozdrawiamy", "<html"
        )
        for fact in facts_stated_once:
            assert fact not in source, (path.name, fact)


# E-mails that do not go to an account (a ticket's requester may have none): no name to greet.
NOT_TO_AN_ACCOUNT = {"ticket_received", "ticket_answered"}


def test_every_email_to_an_account_greets_by_name_or_neutrally(catalogue):
    """An invited person has no name until the activation page asks for it: every e-mail an
    account can get greets by name when there is one, else with a neutral "Dzień dobry,"."""
    named = all_other_emails(catalogue) + [e for *_, e in package_emails_for(catalogue)]
    nameless = all_other_emails(catalogue, None, None) + [
        e for *_, e in package_emails_for(catalogue, name=None)
    ]
    assert len(named) == len(nameless)
    kinds = set()
    for with_name, without in zip(named, nameless):
        assert with_name.kind == without.kind
        check_rendered(without)
        if without.kind in NOT_TO_AN_ACCOUNT:
            assert with_name.text_body == without.text_body
            continue
        kinds.add(without.kind)
        assert re.match(r"Dzień dobry, (Jan|Ewa)!\n\n", with_name.text_body), with_name.kind
        assert re.search(r"<p>Dzień dobry, (Jan|Ewa)!</p>", with_name.html_body), with_name.kind
        assert without.text_body.startswith("Dzień dobry,\n\n"), without.kind
        assert "<p>Dzień dobry,</p>" in without.html_body, without.kind
        # only the greeting differs
        assert re.sub(r"^Dzień dobry, \w+!", "Dzień dobry,", with_name.text_body) == (
            without.text_body
        ), without.kind
    every_kind = {path.stem for path in TEMPLATES.glob("*.txt")
                  if path.stem != "base" and not path.stem.startswith("_")}
    assert kinds == every_kind - NOT_TO_AN_ACCOUNT
    # the wording is in one place (backend/mail/builders.py), not in the templates
    for path in TEMPLATES.iterdir():
        assert "Dzień dobry, {{" not in path.read_text(encoding="utf-8"), path.name


BACKEND = ROOT / "backend"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path) -> set[str]:
    """Every backend module ``path`` imports: at run time, lazily in a function, or for typing."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("backend")}


def _import_graph() -> dict[str, set[str]]:
    modules = {
        _module_name(path): path for path in BACKEND.rglob("*.py") if "migrations" not in path.parts
    }
    return {
        name: {found for found in _imports_of(path) if found in modules and found != name}
        for name, path in modules.items()
    }


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def test_no_import_cycle_through_backend_mail_or_backend_services():
    graph = _import_graph()
    assert "backend.mail.package_emails" in graph and "backend.services.packages" in graph
    cycles = sorted(
        name for name in graph
        if name.startswith(("backend.mail", "backend.services")) and name in _reachable(graph, name)
    )
    assert cycles == []


def test_the_email_builders_take_plain_values_not_services():
    """The builders (everything in backend/mail but the outbox sender, which only needs the Clock
    type) import nothing from backend.services, not even lazily or for type checking."""
    for path in MAIL.glob("*.py"):
        if path.stem == "sender":
            continue
        leaks = {name for name in _imports_of(path) if name.startswith("backend.services")}
        assert not leaks, (path.name, leaks)


@pytest.mark.parametrize(
    "module",
    sorted(f"backend.mail.{p.stem}" for p in MAIL.glob("*.py") if p.stem != "__init__")
    + sorted(f"backend.services.{p.stem}" for p in SERVICES.glob("*.py") if p.stem != "__init__"),
)
def test_each_module_imports_first_in_a_fresh_interpreter(module):
    """Whatever is imported first, nothing meets a half-initialised module."""
    result = subprocess.run(
        [sys.executable, "-c", f"import importlib; importlib.import_module({module!r})"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
