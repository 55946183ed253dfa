"""Company users ("Dane i ustawienia" → "Użytkownicy"): list, add, change role, remove, e-mail.

The `company` area (``actions/company.py`` on the Rasa side); the public URL paths say ``members``
(``/api/v1/organisation/members``) and the table is ``memberships``.

Rules (see backend/roles.py for the role catalogue):
- The caller is the account behind the verification grant; the organisation is the one where that
  account is a member (with several, the caller names it and membership is checked).
- Only a role with the ``users.manage`` permission (the owner) may list, add, change or remove users
  and start another user's e-mail change. Anyone may start the change of their OWN e-mail.
- The owner cannot be removed or demoted and the owner role cannot be granted: a company keeps
  exactly one owner; ownership transfer is out of scope.
- A member of another organisation is "not found" (404), never "forbidden", so nothing leaks.
- Every change is audited in the same transaction as its e-mails (queued in the outbox).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend import polish, roles
from backend.db import is_valid_id
from backend.deps import Deps
from backend.errors import Conflict, DomainError, Forbidden, InvalidToken, NotFound
from backend.mail import company_emails
from backend.mail.contact import SUPPORT_PHONE
from backend.models import Account, AccountState, Membership, Organisation, Role, TokenPurpose
from backend.people import member_label
from backend.repositories import accounts
from backend.repositories import company as company_queries
from backend.services import audit, outbox, tokens

INVITATION_TTL = timedelta(days=7)
EMAIL_CHANGE_TTL = timedelta(hours=24)

_STATES = {
    AccountState.ACTIVE: ("active", "aktywny"),
    AccountState.PENDING_ACTIVATION: ("invited", "zaproszony – jeszcze nie aktywował konta"),
    AccountState.LOCKED: ("locked", "zablokowany"),
}


# --- errors of this area -------------------------------------------------------------------------


class NotOwner(Forbidden):
    code = "not_owner"
    message = (
        "Tę operację może wykonać tylko właściciel firmy (rola „właściciel / prezes”). "
        "Poproś właściciela firmy, aby ją wykonał."
    )


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "Nie znaleziono takiego użytkownika w Twojej firmie."


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"
    message = "Nie znaleziono firmy, do której masz dostęp."


class OrganisationRequired(DomainError):
    status = 422
    code = "organisation_required"
    message = "Masz dostęp do kilku firm. Wskaż, której firmy dotyczy operacja (organisation_id)."


class AlreadyMember(Conflict):
    code = "already_member"
    message = (
        "Użytkownik z tym adresem e-mail ma już dostęp do tej firmy. "
        "Jeśli chcesz zmienić jego uprawnienia, zmień mu rolę."
    )


class LastOwner(Conflict):
    code = "last_owner"
    message = (
        "Nie można usunąć właściciela firmy ani odebrać mu roli „właściciel / prezes” – "
        "firma musi mieć zawsze właściciela. Przekazanie firmy innej osobie nie jest możliwe "
        f"przez asystenta; w tej sprawie zadzwoń do nas: {SUPPORT_PHONE}."
    )


class OwnerRoleNotAssignable(DomainError):
    status = 422
    code = "owner_role_not_assignable"
    message = (
        "Roli „właściciel / prezes” nie można nadać – firma ma zawsze jednego właściciela, "
        "a przekazanie firmy innej osobie nie jest możliwe przez asystenta. Wybierz rolę: "
        "pracownik, zarząd / pełnomocnik / księgowy albo magazynier."
    )


class EmailTaken(Conflict):
    code = "email_taken"
    message = (
        "Ten adres e-mail jest już loginem innego konta, więc nie może zostać użyty. "
        "Podaj inny adres – nic nie zostało zmienione."
    )


class EmailUnchanged(DomainError):
    status = 422
    code = "email_unchanged"
    message = "Nowy adres e-mail jest taki sam jak obecny."


class MemberNotActive(Conflict):
    code = "member_not_active"
    message = (
        "Ten użytkownik jeszcze nie przyjął zaproszenia, więc nie można zmienić jego adresu. "
        "Jeśli adres jest błędny, usuń użytkownika i dodaj go ponownie z właściwym adresem."
    )


class EmailChangeSelfOnly(Forbidden):
    code = "email_change_self_only"
    message = (
        "Ten użytkownik ma dostęp także do innej firmy, dlatego adres e-mail, który jest jego "
        "loginem, może zmienić tylko on sam."
    )


class InvalidEmailChangeLink(InvalidToken):
    message = (
        "Link potwierdzający zmianę adresu e-mail jest nieprawidłowy, wygasł albo został już "
        "użyty. Jeśli adres nadal trzeba zmienić, poproś o zmianę ponownie."
    )


# --- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganisationRef:
    id: int
    name: str

    @classmethod
    def of(cls, organisation: Organisation) -> OrganisationRef:
        return cls(id=organisation.id, name=organisation.name)


@dataclass(frozen=True)
class MemberView:
    """One user of a company, as the owner may see them."""

    id: int  # the membership's id
    name: str | None  # None: invited without a name, not activated yet
    email: str
    role: Role
    role_label: str
    state: str  # active | invited | locked
    state_label: str
    is_you: bool
    added_at: datetime

    @classmethod
    def of(cls, membership: Membership, caller_id: int) -> MemberView:
        account = membership.account
        state, state_label = _STATES[account.state]
        return cls(
            id=membership.id,
            name=account.name,
            email=account.email,
            role=membership.role,
            role_label=roles.label(membership.role),
            state=state,
            state_label=state_label,
            is_you=account.id == caller_id,
            added_at=membership.created_at,
        )


@dataclass(frozen=True)
class MemberList:
    organisation: OrganisationRef
    members: list[MemberView]


@dataclass(frozen=True)
class MemberAdded:
    organisation: OrganisationRef
    member: MemberView
    invitation_sent: bool
    message: str


@dataclass(frozen=True)
class RoleChanged:
    organisation: OrganisationRef
    member: MemberView
    changed: bool
    message: str


@dataclass(frozen=True)
class MemberRemoved:
    organisation: OrganisationRef
    removed_member_id: int
    message: str


@dataclass(frozen=True)
class EmailChangeRequested:
    """A confirmation link went to the new address (nothing changes until it is used)."""

    account_id: int
    message: str


@dataclass(frozen=True)
class EmailChangeTarget:
    """What a confirmation page shows (no secrets)."""

    old_email: str
    new_email: str


@dataclass
class _Context:
    caller: Membership
    organisation: Organisation

    def require_user_manager(self) -> None:
        if not roles.info(self.caller.role).manages_users:
            raise NotOwner()


# --- the service ----------------------------------------------------------------------------------


class CompanyService:
    def __init__(self, deps: Deps) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._clock = deps.clock

    @staticmethod
    def _actor(caller_id: int) -> str:
        return f"assistant:account:{caller_id}"

    async def _context(
        self, session: AsyncSession, caller_id: int, organisation_id: int | None
    ) -> _Context:
        memberships = await company_queries.memberships_of(session, caller_id)
        if organisation_id is not None:
            chosen = [m for m in memberships if m.organisation_id == organisation_id]
            if not chosen:
                raise OrganisationNotFound()
            membership = chosen[0]
        elif len(memberships) == 1:
            membership = memberships[0]
        elif not memberships:
            raise OrganisationNotFound()
        else:
            raise OrganisationRequired(
                details={
                    "organisations": [
                        {
                            "id": m.organisation.id,
                            "name": m.organisation.name,
                            "role": {"code": m.role.value, "label": roles.label(m.role)},
                        }
                        for m in memberships
                    ]
                }
            )
        return _Context(caller=membership, organisation=membership.organisation)

    async def _member(self, session: AsyncSession, context: _Context, member_id: int) -> Membership:
        if not is_valid_id(member_id):
            raise MemberNotFound()
        member = await company_queries.get_member(session, context.organisation.id, member_id)
        if member is None:
            raise MemberNotFound()
        return member

    # --- list ---

    async def list_members(self, caller_id: int, organisation_id: int | None) -> MemberList:
        async with self._sessions() as session:
            context = await self._context(session, caller_id, organisation_id)
            context.require_user_manager()
            members = await company_queries.members_of(session, context.organisation.id)
            return MemberList(
                organisation=OrganisationRef.of(context.organisation),
                members=[MemberView.of(m, caller_id) for m in members],
            )

    # --- add ---

    async def add_member(
        self,
        caller_id: int,
        organisation_id: int | None,
        *,
        email: str,
        role: Role,
        name: str | None = None,
    ) -> MemberAdded:
        """Add a person by e-mail and role (the guide's form); the name is optional: an invited
        person without one gives it on the activation page."""
        async with self._sessions.begin() as session:
            context = await self._context(session, caller_id, organisation_id)
            context.require_user_manager()
            role_info = roles.info(role)
            if not role_info.assignable:
                raise OwnerRoleNotAssignable()
            organisation = context.organisation
            inviter = await accounts.get(session, caller_id)
            account = await accounts.get_by_email(session, email)
            new_account = account is None
            if account is None:
                account = Account(
                    email=accounts.normalise_email(email),
                    name=name,
                    password_hash=None,
                    state=AccountState.PENDING_ACTIVATION,
                    created_at=self._clock(),
                    updated_at=self._clock(),
                )
                session.add(account)
            elif await company_queries.find_membership(session, organisation.id, account.id):
                raise AlreadyMember()
            elif account.name is None and name:
                # Someone invited earlier without a name: the name given now fills the gap (an
                # existing name is the person's own and is never replaced).
                account.name = name
                account.updated_at = self._clock()
            membership = Membership(
                organisation=organisation, account=account, role=role, created_at=self._clock()
            )
            session.add(membership)
            try:
                await session.flush()
            except IntegrityError:
                # A concurrent request added the same person first.
                raise AlreadyMember() from None

            invited = account.state == AccountState.PENDING_ACTIVATION
            if invited:
                # A new account, or one that never accepted an earlier invitation: (re)invite.
                raw = await tokens.issue(
                    session, account, TokenPurpose.INVITATION, INVITATION_TTL, self._clock
                )
                await company_queries.set_token_payload(
                    session,
                    raw,
                    {
                        "organisation_id": organisation.id,
                        "membership_id": membership.id,
                        "role": role.value,
                        "invited_by_account_id": caller_id,
                    },
                )
                content = company_emails.invitation(
                    to_address=account.email,
                    name=account.name,
                    inviter_name=member_label(inviter.name, inviter.email, with_email=False),
                    organisation_name=organisation.name,
                    role=role_info,
                    link=self._deps.link("/activate", raw),
                    ttl_days=INVITATION_TTL.days,
                )
            else:
                content = company_emails.member_added(
                    to_address=account.email,
                    name=account.name,
                    inviter_name=member_label(inviter.name, inviter.email, with_email=False),
                    organisation_name=organisation.name,
                    role=role_info,
                )
            outbox.queue(session, content, self._clock)
            audit.record(
                session, self._clock, actor=self._actor(caller_id), action="member_added",
                account_id=account.id, organisation_id=organisation.id,
                membership_id=membership.id, role=role.value, invited=invited,
                new_account=new_account,
            )
            result = MemberAdded(
                organisation=OrganisationRef.of(organisation),
                member=MemberView.of(membership, caller_id),
                invitation_sent=invited,
                message=_added_message(account, organisation, role_info, invited),
            )
        self._deps.mail_queued()
        return result

    # --- change role ---

    async def change_role(
        self, caller_id: int, organisation_id: int | None, member_id: int, role: Role
    ) -> RoleChanged:
        queued = False
        async with self._sessions.begin() as session:
            context = await self._context(session, caller_id, organisation_id)
            context.require_user_manager()
            member = await self._member(session, context, member_id)
            old_role = member.role
            changed = old_role != role
            if changed:
                if old_role == Role.OWNER:
                    raise LastOwner()
                if not roles.info(role).assignable:
                    raise OwnerRoleNotAssignable()
                member.role = role
                audit.record(
                    session, self._clock, actor=self._actor(caller_id),
                    action="member_role_changed", account_id=member.account_id,
                    organisation_id=context.organisation.id, membership_id=member.id,
                    old_role=old_role.value, new_role=role.value,
                )
                if member.account.state == AccountState.ACTIVE:
                    outbox.queue(
                        session,
                        company_emails.role_changed(
                            to_address=member.account.email,
                            name=member.account.name,
                            organisation_name=context.organisation.name,
                            old_role=roles.info(old_role),
                            new_role=roles.info(role),
                        ),
                        self._clock,
                    )
                    queued = True
            label = roles.label(role)
            who = member_label(member.account.name, member.account.email, with_email=False)
            result = RoleChanged(
                organisation=OrganisationRef.of(context.organisation),
                member=MemberView.of(member, caller_id),
                changed=changed,
                message=(
                    f"Zmieniono rolę użytkownika {who} na „{label}”."
                    if changed
                    else f"Użytkownik {who} ma już rolę „{label}”. "
                    "Nic nie zmieniono."
                ),
            )
        if queued:
            self._deps.mail_queued()
        return result

    # --- remove ---

    async def remove_member(
        self, caller_id: int, organisation_id: int | None, member_id: int
    ) -> MemberRemoved:
        queued = False
        async with self._sessions.begin() as session:
            context = await self._context(session, caller_id, organisation_id)
            context.require_user_manager()
            member = await self._member(session, context, member_id)
            if member.role == Role.OWNER:
                raise LastOwner()
            account = member.account
            organisation = context.organisation
            # An invitation to this company that was not accepted yet is withdrawn with the user.
            now = self._clock()
            invitations = await company_queries.live_tokens(
                session, account.id, TokenPurpose.INVITATION
            )
            for token in invitations:
                if (token.payload or {}).get("organisation_id") == organisation.id:
                    token.consumed_at = now
                    token.consumed_reason = "replaced"
            await session.delete(member)
            audit.record(
                session, self._clock, actor=self._actor(caller_id), action="member_removed",
                account_id=account.id, organisation_id=organisation.id, membership_id=member.id,
                role=member.role.value,
            )
            if account.state == AccountState.ACTIVE:
                outbox.queue(
                    session,
                    company_emails.member_removed(
                        to_address=account.email, name=account.name,
                        organisation_name=organisation.name,
                    ),
                    self._clock,
                )
                queued = True
            result = MemberRemoved(
                organisation=OrganisationRef.of(organisation),
                removed_member_id=member.id,
                message=(
                    f"Użytkownik {member_label(account.name, account.email)} nie ma już dostępu "
                    f"do firmy {organisation.name}."
                ),
            )
        if queued:
            self._deps.mail_queued()
        return result

    # --- e-mail (login) change ---

    async def request_email_change(
        self, caller_id: int, organisation_id: int | None, member_id: int | None, new_email: str
    ) -> EmailChangeRequested:
        """Send a confirmation link to the new address and a notice to the old one.

        ``member_id`` None means the caller's own account (any role, any organisation count).
        """
        new_email = accounts.normalise_email(new_email)
        async with self._sessions.begin() as session:
            if member_id is None:
                account = await accounts.get(session, caller_id)
                membership_id = None
                organisation_ref = None
            else:
                context = await self._context(session, caller_id, organisation_id)
                member = await self._member(session, context, member_id)
                account = member.account
                membership_id = member.id
                organisation_ref = context.organisation.id
                if account.id != caller_id:
                    context.require_user_manager()
                    # The login is the person's, not the company's: if they also work for another
                    # company, this owner must not be able to redirect it (account takeover).
                    if await company_queries.count_memberships(session, account.id) > 1:
                        raise EmailChangeSelfOnly()
            by_self = account.id == caller_id
            if account.state != AccountState.ACTIVE:
                raise MemberNotActive()
            if new_email == account.email:
                raise EmailUnchanged()
            if await accounts.get_by_email(session, new_email) is not None:
                raise EmailTaken()
            raw = await tokens.issue(
                session, account, TokenPurpose.EMAIL_CHANGE, EMAIL_CHANGE_TTL, self._clock
            )
            await company_queries.set_token_payload(
                session, raw, {"new_email": new_email, "requested_by_account_id": caller_id}
            )
            ttl_hours = int(EMAIL_CHANGE_TTL.total_seconds() // 3600)
            outbox.queue(
                session,
                company_emails.email_change_confirm(
                    to_address=new_email, name=account.name, old_email=account.email,
                    link=self._deps.link("/confirm-email", raw), ttl_hours=ttl_hours,
                ),
                self._clock,
            )
            outbox.queue(
                session,
                company_emails.email_change_requested(
                    to_address=account.email, name=account.name, new_email=new_email,
                    requested_by_self=by_self, ttl_hours=ttl_hours,
                ),
                self._clock,
            )
            audit.record(
                session, self._clock, actor=self._actor(caller_id),
                action="email_change_requested", account_id=account.id,
                organisation_id=organisation_ref, membership_id=membership_id, by_self=by_self,
            )
            result = EmailChangeRequested(
                account_id=account.id,
                message=(
                    f"Wysłaliśmy link potwierdzający na nowy adres {new_email}, a na obecny "
                    f"({account.email}) informację o zmianie. Adres zmieni się dopiero po "
                    f"kliknięciu „Potwierdź zmianę” w linku (ważnym przez "
                    f"{polish.hours(ttl_hours, accusative=True)}); do tego czasu logowanie "
                    "odbywa się dotychczasowym adresem."
                ),
            )
        self._deps.mail_queued()
        return result

    async def email_change_target(self, raw_token: str) -> EmailChangeTarget:
        """Check a confirmation link without using it up (mail scanners open links too)."""
        async with self._sessions() as session:
            token = await self._peek(session, raw_token)
            account = await accounts.get(session, token.account_id)
            return EmailChangeTarget(old_email=account.email, new_email=token.payload["new_email"])

    async def confirm_email_change(self, raw_token: str) -> EmailChangeTarget:
        """Change the login. If the address got taken meanwhile nothing changes (token included)."""
        async with self._sessions.begin() as session:
            token = await self._peek(session, raw_token)
            new_email = token.payload["new_email"]
            try:
                account_id = await tokens.consume(
                    session, raw_token, TokenPurpose.EMAIL_CHANGE, self._clock
                )
            except InvalidToken:
                raise InvalidEmailChangeLink() from None
            account = await accounts.get(session, account_id)
            old_email = account.email
            holder = await accounts.get_by_email(session, new_email)
            if holder is not None and holder.id != account.id:
                raise EmailTaken()
            account.email = new_email
            account.updated_at = self._clock()
            try:
                await session.flush()
            except IntegrityError:
                raise EmailTaken() from None
            # Links, codes and chat verifications went to the old address: none of them may
            # still act on the account.
            await company_queries.cancel_live_tokens(session, account.id, self._clock())
            await company_queries.delete_grants(session, account.id)
            outbox.queue(
                session,
                company_emails.email_changed(
                    to_address=old_email, name=account.name, new_email=new_email
                ),
                self._clock,
            )
            audit.record(
                session, self._clock, actor=f"account:{account.id}", action="email_changed",
                account_id=account.id,
                requested_by_account_id=token.payload.get("requested_by_account_id"),
            )
        self._deps.mail_queued()
        return EmailChangeTarget(old_email=old_email, new_email=new_email)

    async def _peek(self, session: AsyncSession, raw_token: str):
        try:
            token = await tokens.peek(session, raw_token, TokenPurpose.EMAIL_CHANGE, self._clock)
        except InvalidToken:
            raise InvalidEmailChangeLink() from None
        if not (token.payload or {}).get("new_email"):
            raise InvalidEmailChangeLink()
        return token


def _added_message(
    account: Account, organisation: Organisation, role: roles.RoleInfo, invited: bool
) -> str:
    who = member_label(account.name, account.email)
    if invited:
        return (
            f"Dodano użytkownika {who} do firmy {organisation.name} z rolą „{role.label}”. "
            f"Na adres {account.email} wysłaliśmy zaproszenie z linkiem do ustawienia hasła, "
            f"ważnym {polish.days(INVITATION_TTL.days)}; do czasu aktywacji konto ma "
            "status „zaproszony”."
        )
    return (
        f"Dodano użytkownika {who} do firmy {organisation.name} z rolą „{role.label}”. "
        "Ta osoba ma już konto, więc loguje się dotychczasowym adresem i hasłem; "
        "na jej adres wysłaliśmy powiadomienie."
    )
