"""Packages through real HTTP, a real database and a real SMTP server."""

import asyncio
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select

from backend.api.service_auth import GRANT_HEADER
from backend.demo_data import ANNA_NOWAK, JAN_KOWALSKI
from backend.models import (
    Account,
    AccountState,
    AuditEvent,
    DocumentExchange,
    Membership,
    OutboxMessage,
    PackageCode,
    Role,
)
from backend.repositories import packages as packages_repo
from tests.support.smtp import body_text, html_text
from tests.support.waiting import eventually

CATALOGUE = "/api/v1/packages"
STATUS = "/api/v1/account/subscription"
CHANGE = "/api/v1/account/subscription/change"
QUOTE = "/api/v1/account/subscription/change/quote"

# Jan's green -> silver on the test clock's day, 23.11.2026: 29900 gr × 282 days
# (23.11.2026–31.08.2027) / 365 = 23100.82 gr; × 1.23 = 28414.23 gr.
FIRST_UPGRADE_PAYMENT = {
    "net_grosze": 23101,
    "gross_grosze": 28414,
    "vat_grosze": 5313,
    "vat_percent": 23,
    "net": "231,01 zł",
    "gross": "284,14 zł",
    "vat": "53,13 zł",
    "days_remaining": 282,
    "period_days": 365,
    "period_start": "2026-11-23",
    "period_end": "2027-08-31",
}


async def change(http, headers, package, **kwargs):
    return await http.post(CHANGE, json={"package": package}, headers=headers, **kwargs)


async def quote(http, headers, package):
    return await http.post(QUOTE, json={"package": package}, headers=headers)


async def organisation_id_of(backend, email) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(
            select(Membership.organisation_id)
            .join(Account, Account.id == Membership.account_id)
            .where(Account.email == email)
        )


async def account_id_of(backend, email) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(Account.id).where(Account.email == email))


async def add_exchanges(backend, organisation_id, *moments):
    async with backend.app.ctx.sessions.begin() as session:
        session.add_all(
            DocumentExchange(organisation_id=organisation_id, exchanged_at=moment)
            for moment in moments
        )


async def add_member(backend, organisation_id, email, role: Role | None):
    async with backend.app.ctx.sessions.begin() as session:
        account = Account(email=email, name="Ewa Lis", state=AccountState.ACTIVE)
        session.add(account)
        if role is not None:
            session.add(Membership(account=account, organisation_id=organisation_id, role=role))


async def audit_actions(backend) -> list[AuditEvent]:
    async with backend.app.ctx.sessions() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def all_mail_delivered(backend, smtp, count):
    """Wait until the sender is idle again before the test ends.

    Stopping the app while the sender has just been woken can hang on Python 3.11
    (asyncio.wait_for swallows the cancellation; see OutboxSender.run_forever).
    """
    await smtp.wait_for(count)

    async def idle():
        async with backend.app.ctx.sessions() as session:
            return not await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )

    await eventually(idle)
    await asyncio.sleep(0.1)
    assert len(smtp.messages) == count


async def outbox_count(backend) -> int:
    async with backend.app.ctx.sessions() as session:
        return await session.scalar(select(func.count()).select_from(OutboxMessage))


# --- the price list -----------------------------------------------------------------------------


async def test_catalogue_is_public_and_matches_the_price_list(http, backend):
    response = await http.get(CATALOGUE)
    assert response.status_code == 200
    body = response.json()
    packages = body["packages"]
    assert [p["code"] for p in packages] == ["green", "silver", "gold"]
    assert [p["display_name"] for p in packages] == [
        "Pakiet zielony",
        "Pakiet srebrny",
        "Pakiet złoty",
    ]
    prices = [p["yearly_price"] for p in packages]
    assert [p["net"] for p in prices] == ["0,00 zł", "299,00 zł", "799,00 zł"]
    assert [p["gross"] for p in prices] == ["0,00 zł", "367,77 zł", "982,77 zł"]
    assert [p["net_grosze"] for p in prices] == [0, 29900, 79900]
    assert [p["gross_grosze"] for p in prices] == [0, 36777, 98277]
    assert {p["vat_percent"] for p in prices} == {23}
    # per month: 79900 / 12 = 6658.33 gr net, 98277 / 12 = 8189.75 gr gross
    monthly = [p["monthly_price"] for p in packages]
    assert [(m["net"], m["gross"]) for m in monthly] == [
        ("0,00 zł", "0,00 zł"),
        ("24,92 zł", "30,65 zł"),
        ("66,58 zł", "81,90 zł"),
    ]
    features = [p["features"] for p in packages]
    assert all(
        f["offer_database"] and f["business_card"] and f["portal_promotion"] for f in features
    )
    assert [f["invoicing"]["days"] for f in features] == [90, None, None]
    assert [f["invoicing"]["label"] for f in features] == [
        "przez 90 dni",
        "bez limitu",
        "bez limitu",
    ]
    assert [f["document_exchange"]["yearly_limit"] for f in features] == [10, 100, None]
    assert [f["document_exchange"]["trial_days"] for f in features] == [90, None, None]
    assert "możliwość testowania przez 90 dni" in features[0]["document_exchange"]["label"]
    assert [f["backup"]["gb"] for f in features] == [0, 5, 30]
    assert [f["backup"]["label"] for f in features] == ["brak", "5 GB", "30 GB"]
    assert body["note"] == "Ceny roczne netto; do cen należy doliczyć 23% VAT."


# --- subscription status ------------------------------------------------------------------------


async def test_status_counts_documents_of_this_polish_calendar_year(http, backend, grant_for):
    jan_org = await organisation_id_of(backend, JAN_KOWALSKI.email)
    anna_org = await organisation_id_of(backend, ANNA_NOWAK.email)
    utc = timezone.utc
    await add_exchanges(
        backend,
        jan_org,
        datetime(2026, 3, 1, 10, tzinfo=utc),
        datetime(2026, 11, 20, 10, tzinfo=utc),
        datetime(2025, 12, 31, 23, 30, tzinfo=utc),  # 1 January 2026, 00:30 in Warsaw: counts
        datetime(2025, 12, 31, 22, 30, tzinfo=utc),  # 31 December 2025, 23:30 in Warsaw: not
        datetime(2026, 12, 31, 23, 30, tzinfo=utc),  # already 2027 in Warsaw: not
    )
    await add_exchanges(backend, anna_org, datetime(2026, 5, 5, tzinfo=utc))  # another firm

    response = await http.get(STATUS, headers=await grant_for(JAN_KOWALSKI.email))
    assert response.status_code == 200
    status = response.json()
    assert status["organisation"]["name"] == "Majama Michał Zając"
    assert (status["role"], status["can_change"]) == ("owner", True)
    assert status["package"]["code"] == "green"
    assert status["valid_until"] == "2027-08-31"
    assert status["pending_downgrade"] is None
    assert status["document_exchange"] == {
        "year": 2026,
        "used": 3,
        "limit": 10,
        "remaining": 7,
        "over_limit": False,
    }


async def test_status_needs_a_grant_and_the_service_token(http, backend, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    no_grant = await http.get(STATUS, headers=backend.service_headers())
    assert no_grant.status_code == 401
    assert no_grant.json()["error"]["code"] == "verification_required"
    no_token = await http.get(STATUS, headers={"X-Verification-Grant": headers[GRANT_HEADER]})
    assert no_token.status_code == 401
    assert no_token.json()["error"]["code"] == "unauthorized"
    wrong = await http.get(
        STATUS, headers={**backend.service_headers(), "X-Verification-Grant": "x"}
    )
    assert wrong.status_code == 401


async def test_account_without_a_firm_gets_404(http, backend, grant_for):
    await add_member(backend, None, "samotny@example.pl", role=None)
    headers = await grant_for("samotny@example.pl")
    for response in (await http.get(STATUS, headers=headers), await change(http, headers, "gold")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "subscription_not_found"


# --- upgrade ------------------------------------------------------------------------------------


async def test_upgrade_is_immediate_with_a_pro_rata_charge_email_and_audit(
    http, backend, smtp, grant_for
):
    headers = await grant_for(JAN_KOWALSKI.email)
    response = await change(http, headers, "silver")
    assert response.status_code == 200
    result = response.json()
    assert (result["change"], result["from_package"], result["to_package"]) == (
        "upgrade",
        "green",
        "silver",
    )
    assert result["effective_from"] == "2026-11-23"
    assert result["payment"] == FIRST_UPGRADE_PAYMENT
    assert "231,01 zł netto (284,14 zł brutto)" in result["message"]
    assert result["message"].startswith("Pakiet zmieniony z zielonego na srebrny od dziś.")
    assert "Cena pakietu srebrnego: 299,00 zł netto rocznie" in result["message"]
    assert result["subscription"]["package"]["code"] == "silver"
    assert result["subscription"]["valid_until"] == "2027-08-31"

    status = (await http.get(STATUS, headers=headers)).json()
    assert status["package"]["code"] == "silver" and status["valid_until"] == "2027-08-31"
    assert status["document_exchange"]["limit"] == 100

    message = (await smtp.wait_for(1))[0]
    assert message["To"] == JAN_KOWALSKI.email
    assert message["Subject"] == "Zmiana pakietu na srebrny – iKsięgowość24"
    text = body_text(message)
    assert "Majama Michał Zając" in text
    assert "z pakietu zielonego na pakiet srebrny." in text
    assert "W pakiecie srebrnym:" in text
    assert "Do zapłaty za pozostałe 282 dni: 231,01 zł netto (284,14 zł brutto" in text
    assert "Nowa cena pakietu srebrnego: 299,00 zł netto za rok (367,77 zł brutto)" in text
    assert "299,00 zł netto za rok" in html_text(message)
    await all_mail_delivered(backend, smtp, 1)

    jan_id = await account_id_of(backend, JAN_KOWALSKI.email)
    [event] = await audit_actions(backend)
    assert (event.actor, event.action, event.account_id) == (
        f"assistant:account:{jan_id}",
        "package_upgrade",
        jan_id,
    )
    assert event.details["from_package"] == "green" and event.details["to_package"] == "silver"
    assert event.details["amount_net_grosze"] == 23101


async def test_upgrade_drops_a_pending_downgrade(http, backend, smtp, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    assert (await change(http, headers, "silver")).status_code == 200
    scheduled = await change(http, headers, "green")
    assert scheduled.json()["change"] == "downgrade_scheduled"
    upgraded = await change(http, headers, "gold")
    assert upgraded.status_code == 200
    result = upgraded.json()
    assert result["change"] == "upgrade" and result["from_package"] == "silver"
    assert result["payment"]["net"] == "386,30 zł"  # 50000 gr × 282 / 365 = 38630.14 gr
    assert result["subscription"]["pending_downgrade"] is None
    await all_mail_delivered(backend, smtp, 3)


# --- downgrade ------------------------------------------------------------------------------------


async def test_downgrade_waits_for_the_end_of_the_paid_period(http, backend, smtp, grant_for):
    anna_org = await organisation_id_of(backend, ANNA_NOWAK.email)
    await add_exchanges(
        backend, anna_org, *[datetime(2026, 6, d, tzinfo=timezone.utc) for d in range(1, 13)]
    )
    headers = await grant_for(ANNA_NOWAK.email)

    response = await change(http, headers, "green")
    assert response.status_code == 200
    result = response.json()
    assert result["change"] == "downgrade_scheduled"
    assert result["effective_from"] == "2027-07-01"
    assert result["payment"] is None
    assert [w["code"] for w in result["warnings"]] == [
        "usage_above_new_limit",
        "invoicing_limited",
        "backup_lower",
    ]
    assert "12 dokumentów" in result["warnings"][0]["message"]
    assert result["subscription"]["package"]["code"] == "silver"
    assert result["subscription"]["pending_downgrade"]["package"]["code"] == "green"
    assert result["subscription"]["pending_downgrade"]["effective_from"] == "2027-07-01"

    message = (await smtp.wait_for(1))[0]
    assert message["Subject"] == "Zaplanowana zmiana pakietu na zielony – iKsięgowość24"
    text = body_text(message)
    assert "Pakiet srebrny działa do końca opłaconego okresu, czyli do 30.06.2027" in text
    assert "Pakiet zielony obowiązuje od 01.07.2027" in text
    assert "Nowa cena: 0,00 zł netto za rok (0,00 zł brutto, w tym 23% VAT)" in text
    assert "12 dokumentów" in text
    await all_mail_delivered(backend, smtp, 1)

    # 30 June 2027, 23:59 in Warsaw (CEST): still silver.
    backend.clock.now = datetime(2027, 6, 30, 21, 59, tzinfo=timezone.utc)
    status = (await http.get(STATUS, headers=await grant_for(ANNA_NOWAK.email))).json()
    assert status["package"]["code"] == "silver" and status["pending_downgrade"] is not None

    # 1 July 2027, 00:00 in Warsaw: the first read applies the downgrade, once.
    backend.clock.now = datetime(2027, 6, 30, 22, 0, tzinfo=timezone.utc)
    headers = await grant_for(ANNA_NOWAK.email)
    for _ in range(2):
        status = (await http.get(STATUS, headers=headers)).json()
        assert status["package"]["code"] == "green"
        assert status["pending_downgrade"] is None
        assert status["valid_until"] == "2028-06-30"
    applied = [e for e in await audit_actions(backend) if e.action == "package_downgrade_applied"]
    assert len(applied) == 1
    assert applied[0].actor == "system"
    assert applied[0].details["organisation_id"] == anna_org


async def test_choosing_the_current_package_cancels_a_pending_downgrade(
    http, backend, smtp, grant_for
):
    headers = await grant_for(ANNA_NOWAK.email)
    assert (await change(http, headers, "green")).status_code == 200
    again = await change(http, headers, "green")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "change_already_scheduled"
    assert "01.07.2027" in again.json()["error"]["message"]

    cancelled = await change(http, headers, "silver")
    assert cancelled.status_code == 200
    assert cancelled.json()["change"] == "downgrade_cancelled"
    assert cancelled.json()["subscription"]["pending_downgrade"] is None
    messages = await smtp.wait_for(2)
    assert messages[1]["Subject"] == "Anulowana zmiana pakietu – iKsięgowość24"
    assert (
        "zmiana pakietu iKsięgowość24 firmy Biuro Rachunkowe Anna Nowak na pakiet zielony "
        "została anulowana" in body_text(messages[1])
    )

    same = await change(http, headers, "silver")
    assert same.status_code == 409
    assert same.json()["error"]["code"] == "same_package"
    assert "srebrny" in same.json()["error"]["message"]
    await all_mail_delivered(backend, smtp, 2)


async def test_a_new_lower_choice_replaces_the_pending_one(http, backend, smtp, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    assert (await change(http, headers, "gold")).status_code == 200
    assert (await change(http, headers, "silver")).json()["change"] == "downgrade_scheduled"
    replaced = await change(http, headers, "green")
    assert replaced.json()["change"] == "downgrade_scheduled"
    status = (await http.get(STATUS, headers=headers)).json()
    assert status["package"]["code"] == "gold"
    assert status["pending_downgrade"]["package"]["code"] == "green"
    await all_mail_delivered(backend, smtp, 3)


async def test_same_package_is_409_and_changes_nothing(http, backend, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    response = await change(http, headers, "green")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "same_package"
    assert error["message"] == "Pakiet zielony jest już aktywny. Wybierz inny pakiet."
    assert await audit_actions(backend) == []
    assert await outbox_count(backend) == 0


# --- trial ---------------------------------------------------------------------------------------


async def start_trial(backend, email, package: PackageCode, until: date):
    """As registration leaves a paid package: tried until ``until``, then back to green."""
    organisation_id = await organisation_id_of(backend, email)
    async with backend.app.ctx.sessions.begin() as session:
        subscription = await packages_repo.subscription_of(session, organisation_id)
        subscription.package_code = package
        subscription.valid_until = subscription.trial_until = until
        subscription.pending_package_code = PackageCode.GREEN


async def test_during_a_trial_choosing_the_tried_package_orders_it(http, backend, smtp, grant_for):
    await start_trial(backend, JAN_KOWALSKI.email, PackageCode.SILVER, date(2027, 2, 21))
    headers = await grant_for(JAN_KOWALSKI.email)
    status = (await http.get(STATUS, headers=headers)).json()
    assert (status["in_trial"], status["trial_active"]) == (True, True)
    assert status["pending_downgrade"]["effective_from"] == "2027-02-22"
    fallback = await change(http, headers, "green")
    assert fallback.json()["error"]["code"] == "change_already_scheduled"

    response = await change(http, headers, "silver")
    assert response.status_code == 200
    result = response.json()
    assert result["change"] == "order"
    payment = result["payment"]
    assert (payment["net"], payment["gross"]) == ("299,00 zł", "367,77 zł")
    assert (payment["period_start"], payment["period_end"]) == ("2027-02-22", "2028-02-21")
    assert payment["period_days"] == 365
    subscription = result["subscription"]
    assert subscription["package"]["code"] == "silver"
    assert subscription["valid_until"] == "2028-02-21"
    assert subscription["pending_downgrade"] is None and subscription["in_trial"] is False

    message = (await smtp.wait_for(1))[0]
    assert message["Subject"] == "Zamówienie pakietu srebrnego – iKsięgowość24"
    text = body_text(message)
    assert "Okres próbny trwa do 21.02.2027, a opłacony okres od 22.02.2027 do 21.02.2028" in text
    assert "Do zapłaty: 299,00 zł netto (367,77 zł brutto, w tym 23% VAT) za rok" in text
    assert [e.action for e in await audit_actions(backend)] == ["package_order"]

    again = await change(http, headers, "silver")
    assert again.json()["error"]["code"] == "same_package"
    await all_mail_delivered(backend, smtp, 1)


async def test_during_a_trial_a_higher_package_is_ordered_for_a_year(
    http, backend, smtp, grant_for
):
    await start_trial(backend, JAN_KOWALSKI.email, PackageCode.SILVER, date(2027, 2, 21))
    headers = await grant_for(JAN_KOWALSKI.email)
    result = (await change(http, headers, "gold")).json()
    assert (result["change"], result["to_package"]) == ("order", "gold")
    assert (result["payment"]["net"], result["payment"]["gross"]) == ("799,00 zł", "982,77 zł")
    assert result["subscription"]["valid_until"] == "2028-02-21"
    await all_mail_delivered(backend, smtp, 1)


# --- who may change -------------------------------------------------------------------------------


async def test_only_an_owner_may_change(http, backend, grant_for):
    jan_org = await organisation_id_of(backend, JAN_KOWALSKI.email)
    await add_member(backend, jan_org, "ewa.lis@majafirma.pl", Role.EMPLOYEE)
    headers = await grant_for("ewa.lis@majafirma.pl")

    status = await http.get(STATUS, headers=headers)
    assert status.status_code == 200
    assert (status.json()["role"], status.json()["can_change"]) == ("employee", False)

    response = await change(http, headers, "gold")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_owner"
    assert "właściciel" in response.json()["error"]["message"]
    status = (await http.get(STATUS, headers=headers)).json()
    assert status["package"]["code"] == "green"
    assert await outbox_count(backend) == 0


async def test_change_needs_a_grant(http, backend):
    for headers in ({}, backend.service_headers()):
        response = await change(http, headers, "gold")
        assert response.status_code == 401
    assert await audit_actions(backend) == []


@pytest.mark.parametrize(
    "payload",
    [
        {"package": "platinum"},
        {"package": "złoty"},
        {},
        {"package": "gold", "extra": 1},
        {"package": 3},
    ],
)
async def test_bad_choices_are_422(http, backend, grant_for, payload):
    response = await http.post(CHANGE, json=payload, headers=await grant_for(JAN_KOWALSKI.email))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


# --- the quote: what the change would charge, without changing anything ------------------------


async def quoted_then_changed(http, backend, headers, package):
    """Quotes `package`, checks the quote changed nothing, then changes: both answers."""
    before = (await http.get(STATUS, headers=headers)).json()
    quoted = await quote(http, headers, package)
    assert quoted.status_code == 200, quoted.text
    assert quoted.headers["cache-control"] == "no-store"
    assert (await http.get(STATUS, headers=headers)).json() == before
    changed = await change(http, headers, package)
    assert changed.status_code == 200, changed.text
    return quoted.json(), changed.json()


async def test_the_quote_is_what_the_change_then_charges(http, backend, smtp, grant_for):
    """Jan: green -> silver (pro rata), -> gold (pro rata again), -> green (scheduled, nothing
    charged), -> gold (the scheduled downgrade cancelled); Anna, in a trial: silver ordered for
    the year after it. Each time the quote and the change agree to the grosz and the day."""
    backend.clock.now = datetime(2027, 1, 15, 11, tzinfo=timezone.utc)
    jan = await grant_for(JAN_KOWALSKI.email)
    # 229 days left (15.01.2027–31.08.2027): silver 29900 gr × 229 / 365 = 18759.45 gr, then
    # gold 50000 gr × 229 / 365 = 31369.86 gr; the downgrade charges nothing.
    steps = [
        ("silver", "upgrade", "187,59 zł"),
        ("gold", "upgrade", "313,70 zł"),
        ("green", "downgrade_scheduled", None),
    ]
    for package, kind, net in steps:
        quoted, changed = await quoted_then_changed(http, backend, jan, package)
        assert quoted["change"] == changed["change"] == kind
        assert quoted["payment"] == changed["payment"]
        assert (quoted["payment"] or {}).get("net") == net
        assert quoted["effective_from"] == changed["effective_from"]
        assert quoted["warnings"] == changed["warnings"]
        assert quoted["new_package"]["code"] == changed["to_package"] == package
        assert quoted["current_package"]["code"] == changed["from_package"]
        assert (quoted["valid_until"], quoted["in_trial"]) == ("2027-08-31", False)
    assert quoted["effective_from"] == "2027-09-01" and quoted["warnings"]

    quoted, changed = await quoted_then_changed(http, backend, jan, "gold")
    assert quoted["change"] == changed["change"] == "downgrade_cancelled"
    assert quoted["cancelled_package"]["code"] == "green"
    assert quoted["payment"] is changed["payment"] is None

    await start_trial(backend, ANNA_NOWAK.email, PackageCode.SILVER, date(2027, 2, 21))
    anna = await grant_for(ANNA_NOWAK.email)
    quoted, changed = await quoted_then_changed(http, backend, anna, "silver")
    assert quoted["change"] == changed["change"] == "order"
    assert quoted["payment"] == changed["payment"]
    assert (quoted["payment"]["net"], quoted["payment"]["gross"]) == ("299,00 zł", "367,77 zł")
    assert (quoted["payment"]["period_start"], quoted["payment"]["period_end"]) == (
        "2027-02-22",
        "2028-02-21",
    )
    assert (quoted["valid_until"], quoted["in_trial"]) == ("2027-02-21", True)
    assert quoted["cancelled_package"]["code"] == "green"
    assert changed["subscription"]["valid_until"] == "2028-02-21"
    await all_mail_delivered(backend, smtp, 5)


async def test_the_first_upgrade_quote_in_full(http, backend, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    response = await quote(http, headers, "silver")
    assert response.status_code == 200
    quoted = response.json()
    assert quoted["payment"] == FIRST_UPGRADE_PAYMENT
    assert (quoted["current_package"]["name"], quoted["new_package"]["name"]) == (
        "zielony",
        "srebrny",
    )
    assert quoted["new_package"]["yearly_price"]["net"] == "299,00 zł"
    assert (quoted["effective_from"], quoted["valid_until"]) == ("2026-11-23", "2027-08-31")
    assert quoted["cancelled_package"] is None and quoted["warnings"] == []
    assert await audit_actions(backend) == []
    assert await outbox_count(backend) == 0


async def test_the_quote_refuses_what_the_change_refuses(http, backend, grant_for):
    jan = await grant_for(JAN_KOWALSKI.email)
    same = await quote(http, jan, "green")
    assert (same.status_code, same.json()["error"]["code"]) == (409, "same_package")

    jan_org = await organisation_id_of(backend, JAN_KOWALSKI.email)
    await add_member(backend, jan_org, "ewa.lis@majafirma.pl", Role.EMPLOYEE)
    employee = await quote(http, await grant_for("ewa.lis@majafirma.pl"), "gold")
    assert (employee.status_code, employee.json()["error"]["code"]) == (403, "not_owner")

    anna = await grant_for(ANNA_NOWAK.email)
    assert (await change(http, anna, "green")).status_code == 200
    scheduled = await quote(http, anna, "green")
    assert (scheduled.status_code, scheduled.json()["error"]["code"]) == (
        409,
        "change_already_scheduled",
    )

    for headers in ({}, backend.service_headers()):
        assert (await quote(http, headers, "gold")).status_code == 401
    bad = await http.post(QUOTE, json={"package": "platinum"}, headers=jan)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")


# --- retries and races ----------------------------------------------------------------------------


async def test_a_retried_change_is_answered_from_the_first_one(http, backend, smtp, grant_for):
    headers = {**await grant_for(JAN_KOWALSKI.email), "Idempotency-Key": "zmiana-1"}
    first = await change(http, headers, "silver")
    second = await change(http, headers, "silver")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(await audit_actions(backend)) == 1
    assert await outbox_count(backend) == 1

    other_body = await change(http, headers, "gold")
    assert other_body.status_code == 422
    assert other_body.json()["error"]["code"] == "idempotency_key_reused"
    await all_mail_delivered(backend, smtp, 1)


async def test_concurrent_changes_do_not_both_win(http, backend, smtp, grant_for):
    headers = await grant_for(JAN_KOWALSKI.email)
    responses = await asyncio.gather(*(change(http, headers, "silver") for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    codes = {r.json()["error"]["code"] for r in responses if r.status_code == 409}
    assert codes <= {"concurrent_change", "same_package"}
    assert len(await audit_actions(backend)) == 1
    await all_mail_delivered(backend, smtp, 1)


async def test_a_stale_read_cannot_overwrite_a_newer_change(backend):
    """The compare-and-set under every change: a writer that read before another wrote loses."""
    jan_org = await organisation_id_of(backend, JAN_KOWALSKI.email)
    sessions = backend.app.ctx.sessions
    async with sessions() as session:
        stale = await packages_repo.subscription_of(session, jan_org)
    async with sessions.begin() as session:
        fresh = await packages_repo.subscription_of(session, jan_org)
        assert await packages_repo.update_if_unchanged(
            session, fresh, backend.clock(), package_code=PackageCode.GOLD
        )
    async with sessions.begin() as session:
        assert not await packages_repo.update_if_unchanged(
            session, stale, backend.clock(), package_code=PackageCode.SILVER
        )
    async with sessions() as session:
        assert (
            await packages_repo.subscription_of(session, jan_org)
        ).package_code == PackageCode.GOLD
