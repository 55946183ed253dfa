"""Request bodies of the JSON API (validated with pydantic) and answers several routes share."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from backend.security.password_policy import MAX_LENGTH as PASSWORD_MAX_LENGTH
from backend.services.rate_limit import Requester


def _checked_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise ValueError("invalid e-mail address") from None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=1000)


class RequesterIn(_Body):
    """Who asks, as the calling service knows it; limits count per conversation and per network.

    Both are optional: a missing one falls back to a bucket named after the calling service, which
    every such request shares. Stored only as SHA-256 digests.
    """

    conversation: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="The chat conversation (e.g. the gateway's conversation id).",
    )
    network: str | None = Field(
        default=None, min_length=1, max_length=64,
        description="The client's network, e.g. 203.0.113.0/24 or 2001:db8:1:2::/64.",
    )


def requester_of(given: RequesterIn | None, caller: str) -> Requester:
    """The limits' requester for a body's optional ``requester`` (the caller's bucket if absent)."""
    if given is None:
        return Requester.of(caller)
    return Requester.of(caller, given.conversation, given.network)


class EmailRequest(_Body):
    """Just an address: a reset link, an activation link resent."""

    email: str = Field(min_length=3, max_length=254)

    _email = field_validator("email")(_checked_email)


class NewPasswordRequest(_Body):
    """A one-time link's token and the password it sets (reset and activation alike)."""

    token: str = Field(min_length=1, max_length=200)
    # Longer than the policy allows so the policy (not a generic error) explains the limit.
    password: str = Field(max_length=PASSWORD_MAX_LENGTH * 2)
    password_confirm: str = Field(max_length=PASSWORD_MAX_LENGTH * 2)


class LoginRequest(_Body):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH * 2)


class SessionTokenRequest(_Body):
    """A website login session's token (verify, logout). Real tokens are 43 characters."""

    session_token: str = Field(min_length=1, max_length=200)


# --- answers several routes share ----------------------------------------------------------------

# ISO 8601 with the offset ("2026-11-23T17:00:00+00:00"), like the code check's ``expires_at``.
IsoDateTime = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class AcceptedOut(BaseModel):
    """The same answer whatever the address (nothing to learn about accounts from it)."""

    status: Literal["accepted"]
    message: str
