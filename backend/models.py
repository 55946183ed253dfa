"""The account backend's tables (SQLAlchemy 2 typed models)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, utcnow


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native ENUM types) so SQLite and PostgreSQL share one migration.
    return Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])


class AccountState(enum.StrEnum):
    PENDING_ACTIVATION = "pending_activation"
    ACTIVE = "active"
    LOCKED = "locked"


class OrganisationKind(enum.StrEnum):
    ACCOUNTING_OFFICE = "accounting_office"
    COMPANY = "company"


class Role(enum.StrEnum):
    OWNER = "owner"
    EMPLOYEE = "employee"
    MANAGEMENT = "management"
    WAREHOUSE = "warehouse"


class TokenPurpose(enum.StrEnum):
    ACTIVATION = "activation"
    PASSWORD_RESET = "password_reset"
    EMAIL_CHANGE = "email_change"
    INVITATION = "invitation"
    CHAT_VERIFICATION = "chat_verification"


class PackageCode(enum.StrEnum):
    GREEN = "green"
    SILVER = "silver"
    GOLD = "gold"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always stored normalised (lower-case), which makes the unique index case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # None for an invited person until they give their name on the activation page.
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[AccountState] = mapped_column(_enum(AccountState))
    cloud_login_activated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    password_changed_at: Mapped[datetime | None]

    memberships: Mapped[list[Membership]] = relationship(back_populates="account")


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind))
    nip: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation")
    subscription: Mapped[Subscription | None] = relationship(back_populates="organisation")


class ComarchLicence(Base):
    """A Comarch ERP Optima licence: ID and PIN came with the purchase; the PIN is kept hashed."""

    __tablename__ = "comarch_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    comarch_id: Mapped[str] = mapped_column(String(20), unique=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    nip: Mapped[str] = mapped_column(String(10))
    holder_name: Mapped[str] = mapped_column(String(200))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Package(Base):
    """One row of the price list (the guide's table). The catalogue is data, not code branches."""

    __tablename__ = "packages"

    code: Mapped[PackageCode] = mapped_column(_enum(PackageCode), primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    position: Mapped[int]
    yearly_price_net_grosze: Mapped[int]
    vat_percent: Mapped[int]
    offer_database: Mapped[bool]
    business_card: Mapped[bool]
    portal_promotion: Mapped[bool]
    # None means unlimited.
    invoicing_days: Mapped[int | None]
    document_exchange_limit: Mapped[int | None]
    document_exchange_trial_days: Mapped[int | None]
    backup_gb: Mapped[int]


class Subscription(Base):
    """An organisation's package. A downgrade waits in pending_* until the paid period ends."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), unique=True
    )
    package_code: Mapped[PackageCode] = mapped_column(
        _enum(PackageCode), ForeignKey("packages.code")
    )
    valid_until: Mapped[date]
    trial_until: Mapped[date | None]
    pending_package_code: Mapped[PackageCode | None] = mapped_column(
        _enum(PackageCode), ForeignKey("packages.code")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="subscription")
    package: Mapped[Package] = relationship(foreign_keys=[package_code], lazy="joined")


class DocumentExchange(Base):
    """A document exchanged through IWD; counted against the package's yearly limit."""

    __tablename__ = "document_exchanges"
    __table_args__ = (Index("ix_document_exchanges_org_time", "organisation_id", "exchanged_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    exchanged_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("organisation_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")


class MobileDevice(Base):
    """The one trusted mobile device (ING Office) of an account; the unique index enforces "one"."""

    __tablename__ = "mobile_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(20))
    device_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    app_pin_hash: Mapped[str | None] = mapped_column(String(200))
    biometrics_enabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)


class Token(Base):
    """A single-use secret sent to a person; only its SHA-256 hash is stored."""

    __tablename__ = "tokens"
    __table_args__ = (
        # One live token per (account, purpose): issuing a new one must consume the old first.
        Index(
            "uq_tokens_live_account_purpose",
            "account_id",
            "purpose",
            unique=True,
            sqlite_where=text("consumed_at IS NULL"),
            postgresql_where=text("consumed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(_enum(TokenPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]
    # "used", "replaced" or "exhausted": why the token can no longer be used.
    consumed_reason: Mapped[str | None] = mapped_column(String(16))
    # Wrong guesses so far (verification codes allow a few).
    attempts: Mapped[int] = mapped_column(default=0)
    # What the token confirms, e.g. the new address of an e-mail change or an invitation's role.
    payload: Mapped[dict] = mapped_column(JSON, default=dict)


class VerificationGrant(Base):
    """Proof, for a short while, that the chat user controls an account's mailbox."""

    __tablename__ = "verification_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    grant_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginSession(Base):
    """A website login: the browser holds the raw token, only its SHA-256 hash is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class IdempotentResponse(Base):
    """The stored answer to a create request, replayed when the same Idempotency-Key comes again."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class OutboxMessage(Base):
    """An e-mail waiting for (or done with) delivery; written in the same transaction as its cause."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # Bodies may carry a one-time link; they are cleared once the message is delivered.
    text_body: Mapped[str | None] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    # The sender holding the lease (random per claim); only it may record a failure.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    # Fixed at the first claim and sent with every attempt, so a resend can be de-duplicated.
    message_id: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


class AuditEvent(Base):
    """Who changed what, and when. Never holds secrets."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class RateLimitHit(Base):
    """One counted attempt; a limiter counts the hits of a key inside its window."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_scope_key", "scope", "key_hash", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    # Keys are e-mail addresses and the like, so only their hash is kept.
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
