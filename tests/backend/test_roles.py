"""The role catalogue ("Pokaż opis roli"): one place, served to the assistant."""

from __future__ import annotations

import pytest

from backend import roles
from backend.polish import days, hours
from backend.models import Role

ROLES = "/api/v1/roles"


def test_every_role_has_the_guides_label_and_a_description():
    assert {role: info.label for role, info in roles.ROLES.items()} == {
        Role.OWNER: "właściciel / prezes",
        Role.EMPLOYEE: "pracownik",
        Role.MANAGEMENT: "zarząd / pełnomocnik / księgowy",
        Role.WAREHOUSE: "magazynier",
    }
    assert set(roles.ROLES) == set(Role)
    for info in roles.ROLES.values():
        assert len(info.description) > 60 and info.description.endswith(".")
        assert info.permissions and set(info.permissions) <= set(roles.PERMISSIONS)
        assert len(set(info.permissions)) == len(info.permissions)


def test_only_the_owner_manages_users_and_is_never_assignable():
    assert [r for r, info in roles.ROLES.items() if info.manages_users] == [Role.OWNER]
    assert roles.assignable_codes() == ["employee", "management", "warehouse"]
    owner = set(roles.info(Role.OWNER).permissions)
    assert owner == set(roles.PERMISSIONS)  # the owner may do everything
    for role in (Role.EMPLOYEE, Role.MANAGEMENT, Role.WAREHOUSE):
        assert set(roles.info(role).permissions) < owner
        assert "package.manage" not in roles.info(role).permissions


def test_role_scopes_match_their_descriptions():
    employee = set(roles.info("employee").permissions)
    warehouse = set(roles.info("warehouse").permissions)
    management = set(roles.info("management").permissions)
    assert "invoices.issue" in employee and "reports.view" not in employee
    assert "company_settings.manage" not in employee
    assert "stock_documents.manage" in warehouse
    assert not warehouse & {"invoices.issue", "invoices.view_all", "payments.view", "reports.view"}
    assert {"accounting.manage", "reports.view", "documents.manage"} <= management
    assert "invoices.view_all" in management


@pytest.mark.parametrize(
    ("n", "day_text", "hour_text"),
    [(1, "1 dzień", "1 godzinę"), (2, "2 dni", "2 godziny"), (5, "5 dni", "5 godzin"),
     (12, "12 dni", "12 godzin"), (22, "22 dni", "22 godziny"), (24, "24 dni", "24 godziny"),
     (25, "25 dni", "25 godzin")],
)
def test_polish_plurals_in_emails(n, day_text, hour_text):
    assert days(n) == day_text and hours(n, accusative=True) == hour_text


async def test_roles_endpoint_serves_the_catalogue(http, backend):
    response = await http.get(ROLES, headers=backend.service_headers())
    assert response.status_code == 200
    served = response.json()["roles"]
    assert [r["code"] for r in served] == ["owner", "employee", "management", "warehouse"]
    assert served == [
        {
            "code": info.role.value,
            "label": info.label,
            "description": info.description,
            "permissions": [{"code": c, "label": roles.PERMISSIONS[c]} for c in info.permissions],
            "assignable": info.assignable,
            "manages_users": info.manages_users,
        }
        for info in roles.ROLES.values()
    ]
    owner = served[0]
    assert owner["assignable"] is False and owner["manages_users"] is True
    users = {"code": "users.manage", "label": roles.PERMISSIONS["users.manage"]}
    assert users in owner["permissions"]
    warehouse = served[3]
    assert warehouse["label"] == "magazynier" and "WZ, PZ" in warehouse["description"]


async def test_one_role_by_code_or_label(http, backend):
    by_code = await http.get(f"{ROLES}/management", headers=backend.service_headers())
    by_label = await http.get(f"{ROLES}/Magazynier", headers=backend.service_headers())
    assert by_code.json()["role"]["label"] == "zarząd / pełnomocnik / księgowy"
    assert by_label.json()["role"]["code"] == "warehouse"
    missing = await http.get(f"{ROLES}/szef", headers=backend.service_headers())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "role_not_found"


async def test_roles_need_the_service_token(http, backend):
    for url in (ROLES, f"{ROLES}/owner"):
        response = await http.get(url, headers={"Authorization": "Bearer wrong"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
