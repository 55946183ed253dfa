"""docs/architecture.md's journey map is true to the code: every file it names exists, every
intent is in its NLU file, every action is served by its module and picked by its rules/stories
(or is a form's ask action), every client method exists, every route is registered by the named
handler module, every service class is in its module and every model is a model the service (or
what it imports from the backend) uses; and each area has one name: the route handler module is
named like the action module (one documented exception)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from backend.app import create_app
from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
CLIENT = ROOT / "actions" / "backend_client.py"
MODELS = ROOT / "backend" / "models.py"
TICKED = re.compile(r"`([^`]+)`")
COLUMNS = ("journey", "nlu", "flows", "actions", "client", "routes", "service", "models")


def journey_rows(text: str) -> list[dict[str, list[str]]]:
    section = text.split("## Journey map", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != len(COLUMNS) or cells[0] in ("journey", "---"):
            continue
        rows.append({name: TICKED.findall(cell) for name, cell in zip(COLUMNS, cells)})
    return rows


ROWS = journey_rows(DOC.read_text(encoding="utf-8"))


def files(names: list[str]) -> list[Path]:
    return [ROOT / name for name in names if "/" in name and "." in name.rsplit("/", 1)[1]
            and not name.startswith(("GET ", "POST ", "PATCH ", "DELETE ", "PUT "))]


def words(names: list[str]) -> list[str]:
    return [name for name in names if re.fullmatch(r"[A-Za-z_]\w*", name)]


def test_the_map_has_a_row_for_every_area():
    assert len(ROWS) >= 10
    action_modules = {path for row in ROWS for path in row["actions"] if path.endswith(".py")}
    assert {
        "actions/account.py", "actions/registration.py", "actions/packages.py",
        "actions/devices.py", "actions/company.py", "actions/support.py", "actions/identity.py",
    } <= action_modules


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r["nlu"][:2]) for r in ROWS])
def test_every_named_file_exists(row):
    named = [path for column in COLUMNS for path in files(row[column])]
    assert named
    assert [path for path in named if not path.is_file()] == []


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r["nlu"][:2]) for r in ROWS])
def test_intents_actions_and_flows(row):
    nlu = "\n".join(path.read_text(encoding="utf-8") for path in files(row["nlu"]))
    for intent in words(row["nlu"]):
        assert re.search(rf"- intent: {intent}\b", nlu), intent
    modules = "\n".join(path.read_text(encoding="utf-8") for path in files(row["actions"]))
    flows = "\n".join(path.read_text(encoding="utf-8") for path in files(row["flows"]))
    for action in words(row["actions"]):
        assert f'return "{action}"' in modules, action
        assert action.startswith("action_ask_") or re.search(rf"\b{action}\b", flows), action


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r["nlu"][:2]) for r in ROWS])
def test_client_methods_exist(row):
    clients = files(row["client"]) or [CLIENT]
    source = "\n".join(path.read_text(encoding="utf-8") for path in clients)
    for method in words(row["client"]):
        assert re.search(rf"async def {method}\(", source), method


def registered_routes() -> dict[tuple[str, str], str]:
    """(method, path) → the module of the handler, from the real app's router."""
    app = create_app(Settings(), name="journey_map_routes")
    routes = {}
    for route in app.router.routes:
        path = "/" + route.path.lstrip("/")
        for method in route.methods:
            routes[(method, path)] = route.handler.__module__
    return routes


def test_routes_are_registered_by_the_named_handler_module():
    routes = registered_routes()
    for row in ROWS:
        modules = {str(path.relative_to(ROOT)).removesuffix(".py").replace("/", ".")
                   for path in files(row["routes"])}
        for route in row["routes"]:
            if " " not in route:
                continue
            method, path = route.split(" ", 1)
            assert (method, path) in routes, route
            assert routes[(method, path)] in modules, (route, routes[(method, path)])


# The one area whose backend name differs on purpose (docs/architecture.md, below the map): the
# chat's password-reset form (actions/account.py) calls the backend's sign-in area (auth), which
# also serves the login and the gateway's sessions.
DIFFERENT_AREAS = {"account": "auth"}


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r["nlu"][:2]) for r in ROWS])
def test_one_name_per_area(row):
    """The route handler module is named like the action module (actions/<area>.py →
    backend/api/<area>.py), so an area is found under one name on both sides."""
    areas = {path.stem for path in files(row["actions"])}
    handlers = {path.stem for path in files(row["routes"]) if path.parts[-2] == "api"}
    assert handlers
    assert handlers == {DIFFERENT_AREAS.get(area, area) for area in areas}, (areas, handlers)


def _backend_imports(path: Path) -> list[Path]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backend"):
            base = ROOT / node.module.replace(".", "/")
            found += [base.with_suffix(".py")]
            found += [base / f"{alias.name}.py" for alias in node.names]
    return [candidate for candidate in found if candidate.is_file()]


@pytest.mark.parametrize("row", ROWS, ids=[" ".join(r["nlu"][:2]) for r in ROWS])
def test_services_and_models(row):
    services = files(row["service"])
    assert services
    source = "\n".join(path.read_text(encoding="utf-8") for path in services)
    for name in words(row["service"]):
        assert re.search(rf"^class {name}\b", source, re.M), name
    models = MODELS.read_text(encoding="utf-8")
    used = "\n".join(
        path.read_text(encoding="utf-8")
        for service in services
        for path in [service, *_backend_imports(service)]
        if path != MODELS
    )
    for model in words(row["models"]):
        assert re.search(rf"^class {model}\(Base\)", models, re.M), model
        assert re.search(rf"\b{model}\b", used), (model, [str(s) for s in services])


def test_the_checks_catch_a_wrong_name():
    planted = journey_rows(
        "## Journey map\n| a | `data/nlu/nie_ma.yml` (`x`) | b | c | d | e | f | g |\n"
    )
    assert files(planted[0]["nlu"]) and not files(planted[0]["nlu"])[0].is_file()
