"""The trusted mobile device (ING Office app): pairing, PIN, biometrics and removal.

- At most one device per account. The unique index on ``mobile_devices.account_id`` is the rule:
  a second pairing, even a concurrent one, fails on it and is answered 409 ``device_limit``.
- The app authenticates with a 256-bit device token, given once at pairing and stored only as its
  SHA-256 digest. Removing the device deletes the row, so its token stops working at once.
- Pairing checks e-mail and password through ``AuthService.login`` (the same throttling, the same
  401 for unknown and wrong, the same dummy-hash timing) and only then looks at devices, so the
  answer never tells a stranger whether an account has a device.
- A pairing retried with the same ``Idempotency-Key`` gets the same device with a fresh token (the
  lost answer's token stops working): the raw token is never stored, not even for replays, and
  the remembered request is fingerprinted without the password. Each retry checks the password.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backend.deps import Deps
from backend.errors import (
    Conflict,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from backend.mail import device_emails
from backend.models import IdempotentResponse, MobileDevice
from backend.repositories import accounts
from backend.repositories import devices as device_queries
from backend.security.tokens import digest, new_token
from backend.services import audit, outbox
from backend.services.auth import AuthService

REMOVAL_REASONS = ("lost", "stolen", "replace")
PIN_LENGTHS = range(4, 7)
IDEMPOTENCY_SCOPE = "mobile_activate"


class DeviceLimitReached(Conflict):
    code = "device_limit"
    message = (
        "Możesz dodać maksymalnie jedno urządzenie mobilne połączone z kontem w ING Księgowość. "
        "Usuń obecne urządzenie (np. przez czat lub w ustawieniach), aby sparować nowe."
    )


class DeviceNotRecognised(Unauthorized):
    code = "device_unauthorized"
    message = (
        "To urządzenie nie jest połączone z kontem albo zostało od niego odłączone. "
        "Aktywuj aplikację ponownie, logując się adresem e-mail i hasłem."
    )


class NoDevice(NotFound):
    code = "no_device"
    message = "Do tego konta nie jest podłączone żadne urządzenie mobilne."


class PinFormat(ValidationFailed):
    code = "pin_format"
    message = "PIN musi składać się z 4–6 cyfr."


class PinTooSimple(ValidationFailed):
    code = "pin_too_simple"
    message = (
        "Ten PIN jest zbyt łatwy do odgadnięcia. Nie używaj jednej powtórzonej cyfry (np. 0000), "
        "kolejnych cyfr (np. 1234 lub 4321) ani powtarzanego układu (np. 1212)."
    )


def check_pin(pin: str) -> None:
    """4–6 ASCII digits, and not guessable at a glance.

    Rejected as trivial: one digit repeated (0000), a run of consecutive digits up or down
    (1234, 456789, 4321), and a shorter block repeated (1212, 123123).
    """
    if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
        raise PinFormat()
    steps = {int(b) - int(a) for a, b in zip(pin, pin[1:])}
    if steps in ({0}, {1}, {-1}):
        raise PinTooSimple()
    if any(len(pin) % size == 0 and pin == pin[:size] * (len(pin) // size) for size in (2, 3)):
        raise PinTooSimple()


@dataclass(frozen=True)
class DeviceView:
    """What may be shown about a device (never its token or PIN)."""

    name: str
    platform: str
    biometrics_enabled: bool
    pin_set: bool
    created_at: datetime
    last_used_at: datetime

    @classmethod
    def of(cls, device: MobileDevice) -> DeviceView:
        return cls(
            name=device.name,
            platform=device.platform,
            biometrics_enabled=device.biometrics_enabled,
            pin_set=device.app_pin_hash is not None,
            created_at=device.created_at,
            last_used_at=device.last_used_at,
        )


@dataclass(frozen=True)
class Activation:
    device_token: str
    device: DeviceView
    replayed: bool


class DeviceService:
    def __init__(self, deps: Deps, auth: AuthService) -> None:
        self._deps = deps
        self._sessions = deps.sessions
        self._hasher = deps.hasher
        self._clock = deps.clock
        self._auth = auth

    # --- the app ---------------------------------------------------------------------------

    async def activate(
        self,
        email: str,
        password: str,
        device_name: str,
        platform: str,
        *,
        idempotency_key: str | None = None,
    ) -> Activation:
        account = await self._auth.login(email, password)
        scope = f"{IDEMPOTENCY_SCOPE}:{account.id}"
        fingerprint = digest(json.dumps({"device_name": device_name, "platform": platform}))
        if idempotency_key is not None:
            replay = await self._replay(account.id, scope, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        raw = new_token()
        now = self._clock()
        try:
            async with self._sessions.begin() as session:
                device = MobileDevice(
                    account_id=account.id,
                    name=device_name,
                    platform=platform,
                    device_token_hash=digest(raw),
                    biometrics_enabled=False,
                    created_at=now,
                    last_used_at=now,
                )
                session.add(device)
                await session.flush()  # the unique index on account_id decides here
                if idempotency_key is not None:
                    await self._remember(session, scope, idempotency_key, fingerprint, device.id)
                outbox.queue(
                    session,
                    device_emails.device_paired(
                        to_address=account.email,
                        name=account.name,
                        device_name=device_name,
                        platform=platform,
                    ),
                    self._clock,
                )
                audit.record(
                    session, self._clock, actor=f"account:{account.id}",
                    action="mobile_device_paired", account_id=account.id,
                    device_name=device_name, platform=platform,
                )
        except IntegrityError:
            if idempotency_key is not None and await self._same_key_won(
                scope, idempotency_key, fingerprint
            ):
                # A concurrent twin of this request paired the device; a retry replays it.
                raise IdempotencyInProgress() from None
            raise DeviceLimitReached() from None
        self._deps.mail_queued()
        return Activation(device_token=raw, device=DeviceView.of(device), replayed=False)

    async def _replay(
        self, account_id: int, scope: str, key: str, fingerprint: str
    ) -> Activation | None:
        """The device this key already paired, with a fresh token; None if there is none."""
        async with self._sessions.begin() as session:
            stored = await session.scalar(
                select(IdempotentResponse).where(
                    IdempotentResponse.scope == scope, IdempotentResponse.key == key
                )
            )
            if stored is None:
                return None
            if stored.request_hash != fingerprint:
                raise IdempotencyKeyReused()
            raw = new_token()
            device_id = stored.body.get("device_id")
            if not await device_queries.set_token_hash(session, device_id, account_id, digest(raw)):
                return None  # that device was removed since: this is a new pairing
            device = await session.get(MobileDevice, device_id)
            audit.record(
                session, self._clock, actor=f"account:{account_id}",
                action="mobile_device_token_reissued", account_id=account_id,
            )
            return Activation(device_token=raw, device=DeviceView.of(device), replayed=True)

    async def _remember(
        self, session, scope: str, key: str, fingerprint: str, device_id: int
    ) -> None:
        # A stale row (its device was removed) gives way; a live one was replayed before this.
        await session.execute(
            delete(IdempotentResponse).where(
                IdempotentResponse.scope == scope, IdempotentResponse.key == key
            )
        )
        session.add(
            IdempotentResponse(
                scope=scope, key=key, request_hash=fingerprint, status=201,
                body={"device_id": device_id}, created_at=self._clock(),
            )
        )
        await session.flush()

    async def _same_key_won(self, scope: str, key: str, fingerprint: str) -> bool:
        async with self._sessions() as session:
            stored = await session.scalar(
                select(IdempotentResponse.request_hash).where(
                    IdempotentResponse.scope == scope, IdempotentResponse.key == key
                )
            )
        return stored == fingerprint

    async def current(self, raw_token: str) -> DeviceView:
        """The device behind the token (any use counts: last_used_at moves)."""
        async with self._sessions.begin() as session:
            device = await self._authenticated(session, raw_token)
            return DeviceView.of(device)

    async def set_pin(self, raw_token: str, pin: str) -> DeviceView:
        async with self._sessions.begin() as session:
            await self._authenticated(session, raw_token)
        check_pin(pin)
        # Hash outside the write transaction so no lock is held during argon2.
        pin_hash = await self._hasher.hash(pin)
        async with self._sessions.begin() as session:
            device = await self._authenticated(session, raw_token)
            device.app_pin_hash = pin_hash
            audit.record(
                session, self._clock, actor=f"account:{device.account_id}",
                action="mobile_device_pin_set", account_id=device.account_id,
            )
            await session.flush()
            return DeviceView.of(device)

    async def set_biometrics(self, raw_token: str, enabled: bool) -> DeviceView:
        async with self._sessions.begin() as session:
            device = await self._authenticated(session, raw_token)
            if device.biometrics_enabled != enabled:
                device.biometrics_enabled = enabled
                audit.record(
                    session, self._clock, actor=f"account:{device.account_id}",
                    action="mobile_device_biometrics_set", account_id=device.account_id,
                    enabled=enabled,
                )
            await session.flush()
            return DeviceView.of(device)

    async def _authenticated(self, session, raw_token: str) -> MobileDevice:
        if not raw_token:
            raise DeviceNotRecognised()
        device = await device_queries.by_token_hash(session, digest(raw_token))
        if device is None:
            raise DeviceNotRecognised()
        device.last_used_at = self._clock()
        await session.flush()
        return device

    # --- the assistant, for a verified account ---------------------------------------------

    async def for_account(self, account_id: int) -> DeviceView | None:
        async with self._sessions() as session:
            device = await device_queries.for_account(session, account_id)
            return DeviceView.of(device) if device else None

    async def remove(self, account_id: int, reason: str) -> DeviceView:
        """Unpair at once (its token stops working; a new device may be paired right away)."""
        if reason not in REMOVAL_REASONS:
            raise ValidationFailed()
        async with self._sessions.begin() as session:
            device = await device_queries.remove_for_account(session, account_id)
            if device is None:
                raise NoDevice()
            account = await accounts.get(session, account_id)
            outbox.queue(
                session,
                device_emails.device_removed(
                    to_address=account.email,
                    name=account.name,
                    device_name=device.name,
                    platform=device.platform,
                    reason=reason,
                ),
                self._clock,
            )
            audit.record(
                session, self._clock, actor=f"assistant:account:{account_id}",
                action="mobile_device_removed", account_id=account_id,
                reason=reason, device_name=device.name, platform=device.platform,
            )
        self._deps.mail_queued()
        return DeviceView.of(device)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_device_name(value: str) -> str:
    """A device name as shown in e-mails and the chat: trimmed, one line, not empty."""
    name = " ".join(value.split())
    if not name or _CONTROL.search(name):
        raise ValueError("invalid device name")
    return name
