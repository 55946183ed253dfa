"""Registration with a Comarch ERP Optima licence (guide steps 4–7).

Decisions (see docs/backend.md):

- The licence is proven by ID + PIN + NIP together. A mismatch answers one message that never says
  which of the three was wrong, and every attempt verifies one argon2 hash (a dummy for unknown
  IDs), so neither the answer nor its timing tells them apart.
- PIN guessing: every attempt is counted *before* the PIN is checked (and uncounted if it
  succeeds) by one atomic step (``rate_limit.acquire``: serialised per key, count, refuse or
  record), so parallel requests cannot slip past the limit while argon2 runs: at most 5 PINs of
  one ID are ever checked per hour. After 5 failures for one ID within an hour, that ID is locked
  for an hour from the 5th failure, even for the right PIN; unknown IDs are counted and locked the
  same way.
- PIN spraying across IDs: 20 failed (or running) checks within an hour from one client network
  (the requester's ``network``, or the calling service's own bucket when it reports none) stop
  licence checks *for that network* until the window moves on (``licence_checks_suspended``).
  Other networks are not affected: a breaker for everyone would let anyone switch registration
  off. Failures across all networks are still counted, but only to raise an alarm (a log warning
  and a ``licence_failures_alarm`` audit row, at most one per hour) when they reach 50 in an hour.
- A licence that already has an account changes nothing (package, validity), whatever package was
  chosen ("Uwaga!" in the guide). The activation link goes to the address registered in that
  account, never to the address typed into the form: sending a link that sets the password of
  somebody's account to an arbitrary address would be an account takeover for anyone who knows
  ID, PIN and NIP. The answer says so, with the account's address masked (a***@biuro-nowak.pl),
  or plainly when the form's address is the account's.
- A new licence gets an accounting office (NIP and name of the licence holder), a pending account,
  an owner membership and a subscription. Green: free for a year, with invoicing and IWD to test
  for 90 days (``trial_until``). Silver/gold: a 90-day trial of that package
  (``valid_until = trial_until``) with green waiting in ``pending_package_code``: unless the
  package is ordered before the trial ends, the organisation falls back to the free green package.
- If the form's address already belongs to another account, nothing is created and the answer is
  the same as for a created account (no account enumeration); that address gets a notice instead
  (with an activation link only if that account still needs one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.pl import nip as stdnum_nip

from backend import metrics
from backend.deps import Deps
from backend.errors import Conflict, DomainError, RateLimited
from backend.mail import registration_emails
from backend.mail.contact import CONTACT_EMAIL as CONTACT
from backend.mail.registration_emails import ActivationVariant
from backend.models import (
    Account,
    AccountState,
    ComarchLicence,
    Membership,
    Organisation,
    OrganisationKind,
    PackageCode,
    Role,
    Subscription,
)
from backend.polish import add_years, format_date, hours
from backend.repositories import accounts, licences
from backend.services import audit, outbox, rate_limit
from backend.services.activation_links import (
    ACTIVATION_TTL,
    may_send_activation,
    needs_activation,
    queue_activation_email,
)
from backend.services.rate_limit import Acquired, LimitReached, RateLimit, Requester, acquire

log = logging.getLogger("backend.registration")

WARSAW = ZoneInfo("Europe/Warsaw")
TRIAL_DAYS = 90
FAILURES_PER_LICENCE = 5
FAILURES_PER_NETWORK = 20
FAILURES_ALARM = 50
LOCK_TIME = timedelta(hours=1)

# Failed (or still running) licence checks per Comarch ID; cleared when the ID gets locked.
LICENCE_ATTEMPTS = RateLimit("licence_attempt", limit=FAILURES_PER_LICENCE, window=LOCK_TIME)
# One hit = the ID is locked for LOCK_TIME from that moment.
LICENCE_LOCK = RateLimit("licence_lock", limit=1, window=LOCK_TIME)
# Failed (or still running) checks from one client network, across all IDs.
NETWORK_LICENCE_ATTEMPTS = RateLimit(
    "licence_attempt_network", limit=FAILURES_PER_NETWORK, window=timedelta(hours=1)
)
# Failures across every network: never refuses anything, only raises the alarm below.
ALL_LICENCE_FAILURES = RateLimit(
    "licence_failure_all", limit=FAILURES_ALARM, window=LOCK_TIME, refuses=False
)
# One hit = the alarm was raised; at most one per hour.
LICENCE_FAILURES_ALARM = RateLimit(
    "licence_failure_alarm", limit=1, window=LOCK_TIME, refuses=False
)
ALL_LICENCES_KEY = "*"
# Notices to an address that already has an account ("email taken"), per address and hour.
EMAIL_TAKEN_NOTICES = RateLimit("registration_notice", limit=3, window=timedelta(hours=1))

NIP_FORMAT_MESSAGE = "NIP musi składać się z 10 cyfr (myślniki i spacje są dozwolone)."
NIP_CHECKSUM_MESSAGE = (
    "NIP jest nieprawidłowy – nie zgadza się jego suma kontrolna. "
    "Sprawdź, czy nie ma w nim literówki."
)
MISMATCH_MESSAGE = (
    "Podane dane licencji nie pasują do siebie. Sprawdź ID Comarch, PIN i NIP i spróbuj ponownie. "
    "ID i PIN otrzymałeś wraz z zakupem oprogramowania Comarch ERP Optima; jeśli ich nie "
    f"pamiętasz, napisz do nas: {CONTACT}."
)
GUIDE_EXISTING_ACCOUNT = "Podane ID Comarch posiada już konto iKsięgowość24."


class InvalidNip(DomainError):
    status = 422
    code = "invalid_nip"
    message = NIP_CHECKSUM_MESSAGE


class TermsNotAccepted(DomainError):
    status = 422
    code = "terms_not_accepted"
    message = (
        "Aby się zarejestrować, potwierdź, że otrzymałaś/eś Regulamin i Cennik usług "
        "iKsięgowość24 i zapoznałaś/eś się z nimi."
    )


class LicenceMismatch(DomainError):
    status = 422
    code = "licence_mismatch"
    message = MISMATCH_MESSAGE


class LicenceLocked(RateLimited):
    code = "licence_locked"
    template = (
        f"Po {FAILURES_PER_LICENCE} nieudanych próbach weryfikacja tego ID Comarch została "
        "zablokowana. Spróbuj ponownie za {minutes} min. Jeśli nie pamiętasz ID lub PIN-u, "
        f"napisz do nas: {CONTACT}."
    )


class LicenceChecksSuspended(RateLimited):
    code = "licence_checks_suspended"
    template = (
        "Z powodu wielu nieudanych prób chwilowo wstrzymaliśmy weryfikację licencji. "
        "Spróbuj ponownie za {minutes} min."
    )


class LicenceAccountUnavailable(Conflict):
    code = "licence_account_unavailable"
    message = (
        "Podane ID Comarch jest przypisane do konta iKsięgowość24, którego nie możemy teraz "
        f"aktywować. Napisz do nas: {CONTACT}."
    )


def normalise_nip(value: str) -> str:
    """The NIP as 10 digits; dashes, spaces and a "PL" prefix are accepted (python-stdnum)."""
    try:
        return stdnum_nip.validate(value)
    except InvalidChecksum:
        raise InvalidNip(NIP_CHECKSUM_MESSAGE, details={"reason": "checksum"}) from None
    except StdnumValidationError:
        raise InvalidNip(NIP_FORMAT_MESSAGE, details={"reason": "format"}) from None


def mask_email(email: str) -> str:
    """``anna.nowak@biuro-nowak.pl`` -> ``a***@biuro-nowak.pl``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@dataclass(frozen=True)
class PlanTerms:
    package: PackageCode
    valid_until: date
    trial_until: date | None
    after_trial: PackageCode | None


def initial_terms(package: PackageCode, today: date) -> PlanTerms:
    trial_end = today + timedelta(days=TRIAL_DAYS)
    if package == PackageCode.GREEN:
        # Free for a year; invoicing and IWD can be tested for 90 days (the guide's table).
        return PlanTerms(package, add_years(today, 1), trial_end, None)
    # A 90-day trial of the paid package, then back to green unless it is ordered.
    return PlanTerms(package, trial_end, trial_end, PackageCode.GREEN)


@dataclass(frozen=True)
class RegistrationForm:
    email: str  # validated and normalised (lower case)
    comarch_id: str  # digits
    pin: str  # 4 digits; never logged, stored or returned
    nip: str  # as typed; checked here
    full_name: str
    package: PackageCode
    terms_accepted: bool

    def __repr__(self) -> str:  # keep the PIN out of tracebacks and logs
        return f"RegistrationForm(comarch_id={self.comarch_id!r}, package={self.package.value!r})"


@dataclass(frozen=True)
class RegistrationResult:
    status: str  # account_created | existing_account | already_active
    message: str
    email_queued: bool
    email_to: str  # the form's address as given, or the account's address masked
    email_to_given_address: bool
    package_code: PackageCode | None
    package_name: str | None
    valid_until: date | None
    trial_until: date | None
    after_trial: PackageCode | None = None


class _LostRace(Exception):
    """Another request linked the licence first; the registration is evaluated again."""


class RegistrationService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    async def register(
        self, form: RegistrationForm, requester: Requester, *, actor: str
    ) -> RegistrationResult:
        nip = normalise_nip(form.nip)
        if not form.terms_accepted:
            raise TermsNotAccepted()
        licence, attempt = await self._admit(form.comarch_id, requester)
        # Exactly one argon2 verification whatever is wrong (a dummy hash for unknown IDs).
        pin_ok = await self._deps.hasher.verify(licence.pin_hash if licence else None, form.pin)
        if licence is None or not pin_ok or licence.nip != nip:
            await self._fail(form.comarch_id, actor)
        for round_ in range(3):
            try:
                async with self._sessions.begin() as session:
                    result = await self._apply(session, form, licence.id, attempt, actor)
                break
            except (_LostRace, IntegrityError):
                # A concurrent registration linked the licence or took the address: look again.
                if round_ == 2:
                    raise
        if result.email_queued:
            self._deps.mail_queued()
        return result

    async def _admit(
        self, comarch_id: str, requester: Requester
    ) -> tuple[ComarchLicence | None, Acquired]:
        """Refuse locked IDs and suspended networks; count this attempt (committed before the
        PIN is checked)."""
        async with self._sessions.begin() as session:
            try:
                attempt = await acquire(
                    session, self._clock,
                    (LICENCE_ATTEMPTS, comarch_id),
                    (NETWORK_LICENCE_ATTEMPTS, requester.network),
                    checks=[(LICENCE_LOCK, comarch_id)],
                )
            except LimitReached as refused:
                if refused.limit is NETWORK_LICENCE_ATTEMPTS:
                    raise LicenceChecksSuspended(refused.retry_after) from None
                raise LicenceLocked(refused.retry_after) from None
            licence = await licences.get_by_comarch_id(session, comarch_id)
            return licence, attempt

    async def _fail(self, comarch_id: str, actor: str) -> None:
        """The attempt stays counted; the 5th failure locks the ID. Always raises."""
        locked_now = False
        async with self._sessions.begin() as session:
            failures = await rate_limit.count(session, LICENCE_ATTEMPTS, comarch_id, self._clock)
            # Which of ID, PIN and NIP was wrong is not recorded anywhere.
            audit.record(
                session, self._clock, actor=actor, action="licence_verification_failed",
                account_id=None, comarch_id=comarch_id,
            )
            if failures >= FAILURES_PER_LICENCE:
                try:
                    await LICENCE_LOCK.acquire(session, comarch_id, self._clock)
                except LimitReached:
                    pass  # a concurrent failure locked it already
                else:
                    locked_now = True
                    audit.record(
                        session, self._clock, actor=actor, action="licence_locked",
                        account_id=None, comarch_id=comarch_id,
                        minutes=int(LOCK_TIME.total_seconds() // 60),
                    )
                await LICENCE_ATTEMPTS.clear(session, comarch_id)
            await self._count_for_alarm(session, actor)
        metrics.LICENCE_FAILURES.inc()
        if locked_now:
            metrics.LOCKOUTS.labels("licence").inc()
        attempts_left = max(0, FAILURES_PER_LICENCE - failures)
        message = MISMATCH_MESSAGE + (
            f" Liczba pozostałych prób: {attempts_left}." if attempts_left else
            f" Weryfikacja tego ID Comarch została zablokowana na "
            f"{int(LOCK_TIME.total_seconds() // 60)} min."
        )
        raise LicenceMismatch(message, details={"attempts_left": attempts_left})

    async def _count_for_alarm(self, session: AsyncSession, actor: str) -> None:
        """Count a failure across every network; at the threshold raise the alarm (never block)."""
        failures = await rate_limit.tally(
            session, ALL_LICENCE_FAILURES, ALL_LICENCES_KEY, self._clock
        )
        if failures < FAILURES_ALARM:
            return
        try:
            await LICENCE_FAILURES_ALARM.acquire(session, ALL_LICENCES_KEY, self._clock)
        except LimitReached:
            return  # raised already within the hour
        log.warning(
            "licence checks: %d failures within an hour across all networks (PIN spraying?)",
            failures,
        )
        audit.record(
            session, self._clock, actor=actor, action="licence_failures_alarm", account_id=None,
            failures=failures, minutes=int(ALL_LICENCE_FAILURES.window.total_seconds() // 60),
        )

    async def _apply(
        self,
        session: AsyncSession,
        form: RegistrationForm,
        licence_id: int,
        attempt: Acquired,
        actor: str,
    ) -> RegistrationResult:
        # A verified licence: its attempt no longer counts, and earlier failures are forgiven.
        await attempt.release(session)
        await LICENCE_ATTEMPTS.clear(session, form.comarch_id)
        # Locked so concurrent registrations of one licence run one after another (PostgreSQL).
        licence = await session.get(
            ComarchLicence, licence_id, with_for_update=True, populate_existing=True
        )
        if licence.organisation_id is not None:
            return await self._existing(session, form, licence, actor)
        return await self._create(session, form, licence, actor)

    async def _existing(
        self, session: AsyncSession, form: RegistrationForm, licence: ComarchLicence, actor: str
    ) -> RegistrationResult:
        owner = await licences.owner_of(session, licence.organisation_id)
        if owner is None or owner.state == AccountState.LOCKED:
            # No link can help here; support has to look at the account.
            raise LicenceAccountUnavailable()
        subscription = await licences.subscription_of(session, licence.organisation_id)
        same_address = owner.email == form.email
        shown_address = owner.email if same_address else mask_email(owner.email)
        unchanged = _unchanged_sentence(subscription)
        active = not needs_activation(owner)
        queued = False
        if active:
            status = "already_active"
            message = (
                f"{GUIDE_EXISTING_ACCOUNT} Logowanie Comarch Cloud jest już aktywne: zaloguj się "
                f"adresem e-mail konta ({shown_address}) i swoim hasłem. Jeśli go nie pamiętasz, "
                f"użyj opcji „Nie pamiętam hasła”. {unchanged}"
            )
        else:
            status = "existing_account"
            queued = await may_send_activation(session, self._deps, owner)
            if queued:
                await queue_activation_email(
                    session, self._deps, owner, ActivationVariant.EXISTING_ACCOUNT, actor=actor,
                    comarch_id=licence.comarch_id,
                )
            message = _existing_message(same_address, shown_address, queued, unchanged)
        audit.record(
            session, self._clock, actor=actor, action="registration_existing_account",
            account_id=owner.id, comarch_id=licence.comarch_id,
            requested_package=form.package.value, given_email_matches=same_address,
            activation_email_queued=queued,
        )
        return RegistrationResult(
            status=status,
            message=message,
            email_queued=queued,
            email_to=shown_address,
            email_to_given_address=same_address,
            package_code=subscription.package_code if subscription else None,
            package_name=subscription.package.name if subscription else None,
            valid_until=subscription.valid_until if subscription else None,
            trial_until=subscription.trial_until if subscription else None,
        )

    async def _create(
        self, session: AsyncSession, form: RegistrationForm, licence: ComarchLicence, actor: str
    ) -> RegistrationResult:
        now = self._clock()
        terms = initial_terms(form.package, now.astimezone(WARSAW).date())
        package = await licences.package(session, form.package)
        result = RegistrationResult(
            status="account_created",
            message=_created_message(form.email, terms, package.name),
            email_queued=True,
            email_to=form.email,
            email_to_given_address=True,
            package_code=terms.package,
            package_name=package.name,
            valid_until=terms.valid_until,
            trial_until=terms.trial_until,
            after_trial=terms.after_trial,
        )
        taken_by = await accounts.get_by_email(session, form.email)
        if taken_by is not None:
            # Same answer as a created account; the address's owner hears about it by e-mail.
            await self._email_taken(session, taken_by, licence, actor)
            return result
        organisation = Organisation(
            name=licence.holder_name, kind=OrganisationKind.ACCOUNTING_OFFICE, nip=licence.nip,
            created_at=now,
        )
        account = Account(
            email=form.email, name=form.full_name, password_hash=None,
            state=AccountState.PENDING_ACTIVATION, cloud_login_activated=False,
            created_at=now, updated_at=now,
        )
        session.add_all([
            organisation,
            account,
            Membership(organisation=organisation, account=account, role=Role.OWNER, created_at=now),
            Subscription(
                organisation=organisation, package_code=terms.package,
                valid_until=terms.valid_until, trial_until=terms.trial_until,
                pending_package_code=terms.after_trial, created_at=now, updated_at=now,
            ),
        ])
        await session.flush()
        if not await licences.link_to_organisation(session, licence.id, organisation.id):
            raise _LostRace()
        await queue_activation_email(
            session, self._deps, account, ActivationVariant.NEW_ACCOUNT, actor=actor,
            comarch_id=licence.comarch_id, package_name=package.name,
        )
        audit.record(
            session, self._clock, actor=actor, action="registration_account_created",
            account_id=account.id, organisation_id=organisation.id,
            comarch_id=licence.comarch_id, package=terms.package.value,
            valid_until=terms.valid_until.isoformat(),
            trial_until=terms.trial_until.isoformat() if terms.trial_until else None,
            terms_accepted=True,
        )
        return result

    async def _email_taken(
        self, session: AsyncSession, account: Account, licence: ComarchLicence, actor: str
    ) -> None:
        try:
            await EMAIL_TAKEN_NOTICES.acquire(session, account.email, self._clock)
            notice = True
        except LimitReached:
            notice = False  # the address heard about it enough this hour
        if notice:
            if needs_activation(account) and await may_send_activation(
                session, self._deps, account
            ):
                await queue_activation_email(
                    session, self._deps, account, ActivationVariant.EMAIL_TAKEN, actor=actor,
                    comarch_id=licence.comarch_id,
                )
            else:
                outbox.queue(
                    session,
                    registration_emails.activation(
                        to_address=account.email, name=account.name,
                        variant=ActivationVariant.EMAIL_TAKEN, comarch_id=licence.comarch_id,
                    ),
                    self._clock,
                )
        audit.record(
            session, self._clock, actor=actor, action="registration_email_taken",
            account_id=account.id, comarch_id=licence.comarch_id,
        )


def _unchanged_sentence(subscription: Subscription | None) -> str:
    if subscription is None:
        return "Parametry usługi nie zmieniają się."
    return (
        "Pakiet i data ważności usługi nie zmieniają się, niezależnie od wybranego pakietu: "
        f"pakiet {subscription.package.name}, ważny do {format_date(subscription.valid_until)}."
    )


def _existing_message(same_address: bool, shown_address: str, queued: bool, unchanged: str) -> str:
    if queued and same_address:
        # The guide's own wording (step 6).
        sent = (
            "Na podany adres e-mail został wysłany link aktywacyjny, przejdź do poczty i aktywuj "
            "usługę iKsięgowość24."
        )
    elif queued:
        sent = (
            "Ze względów bezpieczeństwa link aktywacyjny został wysłany na adres e-mail zapisany "
            f"w tym koncie ({shown_address}), a nie na adres podany w formularzu. Przejdź do tej "
            "skrzynki i aktywuj usługę iKsięgowość24. Jeśli nie masz do niej dostępu, napisz do "
            f"nas: {CONTACT}."
        )
    else:
        where = "podany adres e-mail" if same_address else (
            f"adres e-mail zapisany w tym koncie ({shown_address})"
        )
        sent = (
            f"W ciągu ostatniej godziny wysłaliśmy już kilka linków aktywacyjnych na {where}, "
            "więc nie wysyłamy kolejnego. Sprawdź skrzynkę (także folder ze spamem) i użyj "
            "najnowszego linku albo spróbuj ponownie za godzinę."
        )
    return f"{GUIDE_EXISTING_ACCOUNT} {sent} {unchanged}"


def _created_message(email: str, terms: PlanTerms, package_name: str) -> str:
    validity = hours(int(ACTIVATION_TTL.total_seconds() // 3600), accusative=True)
    if terms.after_trial is None:
        plan = (
            f"pakiet {package_name}, bezpłatny, ważny do {format_date(terms.valid_until)}; "
            "program do fakturowania i wymianę dokumentów IWD możesz testować do "
            f"{format_date(terms.trial_until)}"
        )
    else:
        plan = (
            f"pakiet {package_name} w okresie próbnym do {format_date(terms.trial_until)}; "
            "jeśli do tego dnia nie zamówisz pakietu, konto przejdzie na bezpłatny pakiet zielony"
        )
    return (
        f"Konto iKsięgowość24 zostało utworzone ({plan}). Link aktywacyjny wysyłamy na podany "
        f"adres e-mail ({email}) w wiadomości „Aktywacja konta Comarch Cloud” – przejdź do poczty "
        f"i aktywuj usługę iKsięgowość24. Link jest ważny {validity}."
    )
