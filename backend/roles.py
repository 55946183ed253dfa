"""Company roles: labels, descriptions and permissions, in ONE place.

The labels follow the ING Księgowość guide ("Dane i ustawienia" → "Użytkownicy"): the owner is
"właściciel / prezes", the roles a user can be given are "pracownik", "zarząd / pełnomocnik /
księgowy" and "magazynier". The descriptions answer the guide's "Pokaż opis roli".

Decisions:
- Only the owner manages users (adds, removes, changes roles and other people's login e-mail).
  Management / proxy / accountant does not: the guide makes the owner answerable for who has access
  to the company's data ("To Ty odpowiadasz za to kto i na jakich zasadach ma dostęp"), and a role
  that could grant roles could widen its own access. Who manages users is derived from the
  ``users.manage`` permission below, nowhere else.
- A company always has exactly one owner. The owner role is never granted through the company
  users API (ownership transfer is out of scope), so it is listed but not ``assignable``.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.models import Role

# Permission code -> what it lets a person do, in Polish (shown to people by the assistant).
PERMISSIONS: dict[str, str] = {
    "invoices.issue": "wystawianie faktur, faktur korygujących i paragonów",
    "invoices.view_all": "przegląd wszystkich faktur sprzedaży i zakupu firmy",
    "customers.manage": "kartoteka kontrahentów (dodawanie i edycja)",
    "products.view": "podgląd kartoteki towarów i usług (wybór pozycji na fakturze)",
    "products.manage": "kartoteka towarów i usług (dodawanie i edycja, ceny)",
    "stock_documents.manage": "dokumenty magazynowe (WZ, PZ) i stany magazynowe",
    "documents.manage": "dokumenty kosztowe i wymiana dokumentów z biurem rachunkowym",
    "accounting.manage": "księgowość: ewidencje (KPiR, rejestry VAT), deklaracje i JPK",
    "payments.view": "płatności, rozrachunki i należności",
    "reports.view": "raporty i zestawienia finansowe",
    "company_settings.manage": "dane firmy i ustawienia (np. numeracja dokumentów)",
    "users.manage": "zarządzanie użytkownikami: dodawanie, usuwanie, zmiana ról i adresów e-mail",
    "package.manage": "pakiet usług i płatności za abonament",
}

USERS_MANAGE = "users.manage"


@dataclass(frozen=True)
class RoleInfo:
    role: Role
    label: str
    description: str
    permissions: tuple[str, ...]
    # May the owner give this role to a user through the company users API?
    assignable: bool

    @property
    def manages_users(self) -> bool:
        return USERS_MANAGE in self.permissions


_MANAGEMENT_PERMISSIONS = (
    "invoices.issue",
    "invoices.view_all",
    "customers.manage",
    "products.view",
    "products.manage",
    "stock_documents.manage",
    "documents.manage",
    "accounting.manage",
    "payments.view",
    "reports.view",
    "company_settings.manage",
)

# Ordered as in the guide: the owner first, then the roles of the "Dodaj użytkownika" dialog.
ROLES: dict[Role, RoleInfo] = {
    Role.OWNER: RoleInfo(
        role=Role.OWNER,
        label="właściciel / prezes",
        description=(
            "Pełny dostęp do firmy: faktury, księgowość, dokumenty, płatności, raporty, magazyn "
            "i ustawienia. Tylko właściciel dodaje i usuwa użytkowników, zmienia ich role "
            "i adresy e-mail oraz zarządza pakietem. Firma ma zawsze dokładnie jednego właściciela."
        ),
        permissions=(*_MANAGEMENT_PERMISSIONS, USERS_MANAGE, "package.manage"),
        assignable=False,
    ),
    Role.EMPLOYEE: RoleInfo(
        role=Role.EMPLOYEE,
        label="pracownik",
        description=(
            "Wystawia faktury i paragony, prowadzi kartotekę kontrahentów i wybiera towary "
            "lub usługi z kartoteki. Nie widzi księgowości, płatności, raportów ani ustawień firmy "
            "i nie zarządza użytkownikami."
        ),
        permissions=("invoices.issue", "customers.manage", "products.view"),
        assignable=True,
    ),
    Role.MANAGEMENT: RoleInfo(
        role=Role.MANAGEMENT,
        label="zarząd / pełnomocnik / księgowy",
        description=(
            "Dla członków zarządu, pełnomocników i księgowych. Dostęp do wszystkich danych "
            "księgowych: faktur, dokumentów kosztowych, ewidencji i deklaracji, płatności, "
            "raportów i magazynu; może też zmieniać dane i ustawienia firmy. Nie zarządza "
            "użytkownikami ani pakietem – to należy do właściciela."
        ),
        permissions=_MANAGEMENT_PERMISSIONS,
        assignable=True,
    ),
    Role.WAREHOUSE: RoleInfo(
        role=Role.WAREHOUSE,
        label="magazynier",
        description=(
            "Prowadzi dokumenty magazynowe (WZ, PZ), stany magazynowe i kartotekę towarów. "
            "Nie ma dostępu do faktur, płatności, raportów ani innych danych finansowych."
        ),
        permissions=("stock_documents.manage", "products.view", "products.manage"),
        assignable=True,
    ),
}


def info(role: Role | str) -> RoleInfo:
    return ROLES[Role(role)]


def label(role: Role | str) -> str:
    return info(role).label


def assignable_codes() -> list[str]:
    return [role.value for role, role_info in ROLES.items() if role_info.assignable]
