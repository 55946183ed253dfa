"""Every service of the backend, built once at start-up (``create_app``) and kept on
``app.ctx.services``; handlers reach them with ``services(request)`` from ``backend.api.context``.
Services keep no per-request state: one instance of each serves every request."""

from __future__ import annotations

from dataclasses import dataclass

from backend.deps import Deps
from backend.services.activation import ActivationService
from backend.services.auth import AuthService
from backend.services.company import CompanyService
from backend.services.devices import DeviceService
from backend.services.identity import IdentityService
from backend.services.login_sessions import LoginSessionService
from backend.services.packages import PackageService
from backend.services.registration import RegistrationService
from backend.services.support import SupportService


@dataclass(frozen=True)
class Services:
    auth: AuthService
    login_sessions: LoginSessionService
    registration: RegistrationService
    activation: ActivationService
    identity: IdentityService
    company: CompanyService
    devices: DeviceService
    packages: PackageService
    support: SupportService

    @classmethod
    def build(cls, deps: Deps) -> Services:
        auth = AuthService(deps)
        return cls(
            auth=auth,
            login_sessions=LoginSessionService(deps),
            registration=RegistrationService(deps),
            activation=ActivationService(deps),
            identity=IdentityService(deps),
            company=CompanyService(deps),
            devices=DeviceService(deps, auth),
            packages=PackageService(deps),
            support=SupportService(deps),
        )
