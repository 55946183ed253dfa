"""The pages a person opens from an e-mail: the reset form and its result."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request, html

from backend.api.context import services
from backend.api.openapi import HTML, form_body, query, responds
from backend.errors import InvalidToken, PasswordPolicyViolation
from backend.security.password_policy import RULE_MESSAGES, PasswordRule

bp = Blueprint("pages")

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "pages"),
    autoescape=select_autoescape(["html"]),
)
_RULES = [RULE_MESSAGES[rule] for rule in
          (PasswordRule.MIN_LENGTH, PasswordRule.CONTAINS_USERNAME, PasswordRule.CHARACTER_GROUPS)]
_NO_CACHE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def render_page(name: str, status: int = 200, **context) -> html:
    """A page opened from an e-mail link: never cached, never leaks its URL (token) as referrer."""
    return html(_templates.get_template(name).render(rules=_RULES, **context),
                status=status, headers=_NO_CACHE)


@bp.get("/reset-password")
@query("token", description="The reset link's token.")
@responds(200, media_type=HTML, description="The form that sets a new password.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
async def reset_form(request: Request):
    token = request.args.get("token", "")
    try:
        target = await services(request).auth.reset_target(token)
    except InvalidToken as error:
        return render_page("link_invalid.html", status=400, message=error.message)
    return render_page("reset_form.html", token=token, email=target.email, errors=[])


@bp.post("/reset-password")
@form_body("token", "password", "password_confirm")
@responds(200, media_type=HTML, description="The password is changed.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
@responds(422, media_type=HTML, description="The form again, with the password rules it broke.")
async def reset_submit(request: Request, form: dict[str, str]):
    token, password, confirmation = form["token"], form["password"], form["password_confirm"]
    auth = services(request).auth
    try:
        await auth.reset_password(token, password, confirmation)
    except InvalidToken as error:
        return render_page("link_invalid.html", status=400, message=error.message)
    except PasswordPolicyViolation as error:
        target = await auth.reset_target(token)
        errors = [item["message"] for item in error.details]
        return render_page("reset_form.html", status=422, token=token, email=target.email, errors=errors)
    return render_page("reset_done.html")
