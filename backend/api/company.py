"""Company users API (/api/v1/organisation/members), role catalogue, e-mail change confirmation.

The area is called `company` everywhere (``actions/company.py``, ``backend/services/company.py``,
``backend/mail/company_emails.py``, ``backend/repositories/company.py``); the URL paths keep
``members`` (``/api/v1/organisation/members``) because they are a public contract, and the table
is ``memberships``.

- ``bp`` (prefix /api/v1/organisation): every route needs the service token AND a live verification
  grant; the verified account is the caller, its membership decides the organisation and the rights.
- ``extra_bp`` (no prefix): ``GET /api/v1/roles`` (service token) and ``POST
  /api/v1/auth/email-change/confirm`` (the one-time token from the e-mail is the proof, as with the
  password reset link). The ``/confirm-email`` page opened from that e-mail is in
  ``backend/api/pages.py`` with the other pages.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sanic import Blueprint, Request

from backend import roles
from backend.db import is_valid_id
from backend.api.context import services
from backend.api.idempotency import idempotent
from backend.api.openapi import answer, json_body, query, raises, responds
from backend.api.schemas import IsoDateTime, _checked_email
from backend.api.service_auth import require_grant, require_service_token
from backend.errors import NotFound, ValidationFailed
from backend.models import Role
from backend.services import company as company_service
from backend.services.company import (
    AlreadyMember,
    EmailChangeSelfOnly,
    EmailTaken,
    EmailUnchanged,
    InvalidEmailChangeLink,
    LastOwner,
    MemberNotActive,
    MemberNotFound,
    NotOwner,
    OrganisationNotFound,
    OrganisationRequired,
    OwnerRoleNotAssignable,
)

bp = Blueprint("company_v1", url_prefix="/api/v1/organisation")
extra_bp = Blueprint("company_extra")


# --- request bodies -------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)

    # Only needed when the caller has access to several companies (may also come as a query arg).
    organisation_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


def _checked_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value or any(not ch.isprintable() for ch in value):
        raise ValueError("invalid name")
    return value


class AddMemberRequest(_Body):
    """The guide's "Dodawanie użytkownika do firmy" form: e-mail and role. The name is optional
    (omitted or null): an invited person without one gives it on the activation page."""

    email: str = Field(min_length=3, max_length=254)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=64)

    _email = field_validator("email")(_checked_email)
    _name = field_validator("name")(_checked_name)


class ChangeRoleRequest(_Body):
    role: str = Field(min_length=1, max_length=64)


class EmailChangeRequest(_Body):
    new_email: str = Field(min_length=3, max_length=254)

    _email = field_validator("new_email")(_checked_email)


class EmailChangeConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)


# --- answers (documented in the OpenAPI document, and every answer passes through them) ---------


class OrganisationRefOut(BaseModel):
    id: int
    name: str

    @classmethod
    def of(cls, organisation: company_service.OrganisationRef) -> OrganisationRefOut:
        return cls(id=organisation.id, name=organisation.name)


class MemberRoleOut(BaseModel):
    code: Role
    label: str = Field(examples=["pracownik"])


class MemberOut(BaseModel):
    id: int = Field(description="The membership's id (the `member_id` of the other routes).")
    name: str | None = Field(
        description="null: invited without a name and not activated yet (the activation page "
        "asks the person for it)."
    )
    email: str
    role: MemberRoleOut
    state: Literal["active", "invited", "locked"]
    state_label: str
    is_you: bool
    added_at: IsoDateTime

    @classmethod
    def of(cls, member: company_service.MemberView) -> MemberOut:
        return cls(
            id=member.id,
            name=member.name,
            email=member.email,
            role=MemberRoleOut(code=member.role, label=member.role_label),
            state=member.state,
            state_label=member.state_label,
            is_you=member.is_you,
            added_at=member.added_at,
        )


class MembersOut(BaseModel):
    organisation: OrganisationRefOut
    members: list[MemberOut]


class MemberAddedOut(BaseModel):
    organisation: OrganisationRefOut
    member: MemberOut
    invitation_sent: bool = Field(description="A new person was invited by e-mail.")
    message: str


class RoleChangedOut(BaseModel):
    organisation: OrganisationRefOut
    member: MemberOut
    changed: bool = Field(description="false: the member already had the role.")
    message: str


class MemberRemovedOut(BaseModel):
    organisation: OrganisationRefOut
    removed_member_id: int
    message: str


class EmailChangeRequestedOut(BaseModel):
    status: Literal["confirmation_sent"]
    account_id: int
    message: str


class EmailChangedOut(BaseModel):
    status: Literal["email_changed"]
    email: str
    message: str



# --- helpers --------------------------------------------------------------------------------------

_ROLE_ALIASES = {
    **{role.value: role for role in Role},
    **{info.label.casefold(): role for role, info in roles.ROLES.items()},
}


def _role(value: str) -> Role:
    """A role code ("employee") or its Polish label ("pracownik")."""
    role = _ROLE_ALIASES.get(" ".join(value.split()).casefold())
    if role is None:
        choices = ", ".join(
            f"{code} ({roles.label(code)})" for code in roles.assignable_codes()
        )
        raise ValidationFailed(
            details=[{"field": "role", "code": "invalid_role",
                      "message": f"Nieznana rola. Dostępne role: {choices}."}]
        )
    return role


def _organisation_id(request: Request, body: _Body | None = None) -> int | None:
    if body is not None and body.organisation_id is not None:
        return body.organisation_id
    raw = request.args.get("organisation_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not is_valid_id(int(raw)):
        raise ValidationFailed(
            details=[{"field": "organisation_id", "code": "int_parsing",
                      "message": "Identyfikator firmy musi być dodatnią liczbą całkowitą."}]
        )
    return int(raw)


# Every members route: the caller's company (a query argument or the body's organisation_id).
organisation_query = query(
    "organisation_id",
    schema={"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    description="The company, when the caller has access to several.",
)
_CONTEXT_ERRORS = (OrganisationNotFound, OrganisationRequired, NotOwner, ValidationFailed)


def _email_change_requested(
    result: company_service.EmailChangeRequested,
) -> EmailChangeRequestedOut:
    return EmailChangeRequestedOut(
        status="confirmation_sent", account_id=result.account_id, message=result.message
    )


# --- members (verified caller) --------------------------------------------------------------------


@bp.get("/members")
@require_grant
@organisation_query
@responds(200, MembersOut, description="The company and its users.")
@raises(*_CONTEXT_ERRORS)
async def list_members(request: Request):
    result = await services(request).company.list_members(
        request.ctx.account_id, _organisation_id(request)
    )
    return answer(
        MembersOut(
            organisation=OrganisationRefOut.of(result.organisation),
            members=[MemberOut.of(member) for member in result.members],
        )
    )


@bp.post("/members")
@require_grant
@idempotent("organisation_members_add")
@organisation_query
@json_body(AddMemberRequest)
@responds(201, MemberAddedOut, description="Added (a new person is invited by e-mail).")
@raises(*_CONTEXT_ERRORS, AlreadyMember, OwnerRoleNotAssignable)
async def add_member(request: Request, body: AddMemberRequest):
    result = await services(request).company.add_member(
        request.ctx.account_id,
        _organisation_id(request, body),
        email=body.email,
        name=body.name,
        role=_role(body.role),
    )
    out = MemberAddedOut(
        organisation=OrganisationRefOut.of(result.organisation),
        member=MemberOut.of(result.member),
        invitation_sent=result.invitation_sent,
        message=result.message,
    )
    return answer(out, status=201)


@bp.patch("/members/<member_id:int>")
@require_grant
@organisation_query
@json_body(ChangeRoleRequest)
@responds(200, RoleChangedOut, description="The member with the new role.")
@raises(*_CONTEXT_ERRORS, MemberNotFound, LastOwner, OwnerRoleNotAssignable)
async def change_role(request: Request, member_id: int, body: ChangeRoleRequest):
    result = await services(request).company.change_role(
        request.ctx.account_id, _organisation_id(request, body), member_id, _role(body.role)
    )
    out = RoleChangedOut(
        organisation=OrganisationRefOut.of(result.organisation),
        member=MemberOut.of(result.member),
        changed=result.changed,
        message=result.message,
    )
    return answer(out)


@bp.delete("/members/<member_id:int>")
@require_grant
@organisation_query
@responds(200, MemberRemovedOut, description="Removed from the company.")
@raises(*_CONTEXT_ERRORS, MemberNotFound, LastOwner)
async def remove_member(request: Request, member_id: int):
    result = await services(request).company.remove_member(
        request.ctx.account_id, _organisation_id(request), member_id
    )
    out = MemberRemovedOut(
        organisation=OrganisationRefOut.of(result.organisation),
        removed_member_id=result.removed_member_id,
        message=result.message,
    )
    return answer(out)


@bp.post("/members/<member_id:int>/email-change")
@require_grant
@idempotent("organisation_member_email_change")
@organisation_query
@json_body(EmailChangeRequest)
@responds(202, EmailChangeRequestedOut, description="A confirmation link went to the new address.")
@raises(*_CONTEXT_ERRORS, MemberNotFound, MemberNotActive, EmailUnchanged, EmailTaken,
        EmailChangeSelfOnly)
async def request_email_change(request: Request, member_id: int, body: EmailChangeRequest):
    result = await services(request).company.request_email_change(
        request.ctx.account_id, _organisation_id(request, body), member_id, body.new_email
    )
    return answer(_email_change_requested(result), status=202)


@bp.post("/members/me/email-change")
@require_grant
@idempotent("organisation_member_email_change")
@json_body(EmailChangeRequest)
@responds(202, EmailChangeRequestedOut, description="A confirmation link went to the new address.")
@raises(OrganisationNotFound, EmailUnchanged, EmailTaken)
async def request_own_email_change(request: Request, body: EmailChangeRequest):
    result = await services(request).company.request_email_change(
        request.ctx.account_id, None, None, body.new_email
    )
    return answer(_email_change_requested(result), status=202)


# --- role catalogue ("Pokaż opis roli") -----------------------------------------------------------


class PermissionOut(BaseModel):
    code: str
    label: str


class RoleOut(BaseModel):
    code: Role
    label: str
    description: str
    permissions: list[PermissionOut]
    assignable: bool = Field(description="May the owner give this role through this API?")
    manages_users: bool

    @classmethod
    def of(cls, info: roles.RoleInfo) -> RoleOut:
        return cls(
            code=info.role,
            label=info.label,
            description=info.description,
            permissions=[
                PermissionOut(code=code, label=roles.PERMISSIONS[code])
                for code in info.permissions
            ],
            assignable=info.assignable,
            manages_users=info.manages_users,
        )


class RolesOut(BaseModel):
    roles: list[RoleOut]


class OneRoleOut(BaseModel):
    role: RoleOut


class RoleNotFound(NotFound):
    code = "role_not_found"
    message = "Nie ma takiej roli."


@extra_bp.get("/api/v1/roles")
@require_service_token
@responds(200, RolesOut, description="Every role with its description.")
async def list_roles(request: Request):
    out = RolesOut(roles=[RoleOut.of(info) for info in roles.ROLES.values()])
    return answer(out)


@extra_bp.get("/api/v1/roles/<code:str>")
@require_service_token
@responds(200, OneRoleOut, description="One role with its description.")
@raises(RoleNotFound)
async def show_role(request: Request, code: str):
    role = _ROLE_ALIASES.get(code.casefold())
    if role is None:
        raise RoleNotFound()
    return answer(OneRoleOut(role=RoleOut.of(roles.info(role))))


# --- e-mail change confirmation (the link from the e-mail is the proof) ---------------------------


@extra_bp.post("/api/v1/auth/email-change/confirm")
@json_body(EmailChangeConfirm)
@responds(200, EmailChangedOut, description="The login e-mail is changed.")
@raises(InvalidEmailChangeLink, EmailTaken)
async def confirm_email_change_api(request: Request, body: EmailChangeConfirm):
    done = await services(request).company.confirm_email_change(body.token)
    return answer(
        EmailChangedOut(
            status="email_changed",
            email=done.new_email,
            message=f"Adres e-mail do logowania został zmieniony na {done.new_email}.",
        )
    )
