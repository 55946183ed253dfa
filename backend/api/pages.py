"""Every page a person opens from an e-mail link, and nothing else (the JSON API is elsewhere).

- ``/reset-password``: the password reset form ("Ustaw nowe hasło") and its result;
- ``/activate``: the first password, from the activation e-mail or an invitation (and the
  person's name, when the account has none: invited by e-mail and role only);
- ``/confirm-email``: the confirmation of a new login e-mail address.

The link's one-time token is the credential; GET never uses it up, only the form's POST does.
Pages are never cached and never send their URL (the token) as a referrer.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint, Request, html

from backend.api.context import services
from backend.api.openapi import HTML, form_body, query, responds
from backend.errors import InvalidToken, PasswordPolicyViolation
from backend.models import TokenPurpose
from backend.services.activation import InvalidPersonName
from backend.services.company import EmailTaken
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


# --- /reset-password: a new password (reset e-mail) ---------------------------------------------


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
        try:  # the link may have expired while the password was being checked
            target = await auth.reset_target(token)
        except InvalidToken as expired:
            return render_page("link_invalid.html", status=400, message=expired.message)
        errors = [item["message"] for item in error.details]
        return render_page(
            "reset_form.html", status=422, token=token, email=target.email, errors=errors
        )
    return render_page("reset_done.html")


# --- /activate: the first password (activation e-mail or invitation) -----------------------------


def _activation_form(
    token: str,
    target,
    errors: list[str],
    status: int = 200,
    *,
    name: str = "",
    name_error: str | None = None,
) -> html:
    """The form; ``name`` is what the person typed (kept when the form comes back)."""
    return render_page(
        "activate_form.html", status=status, token=token, email=target.email,
        invitation=target.purpose == TokenPurpose.INVITATION, errors=errors,
        needs_name=target.needs_name, person_name=name, name_error=name_error,
    )


@bp.get("/activate")
@query("token", description="The activation (or invitation) link's token.")
@responds(200, media_type=HTML, description="The form that sets the first password.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
async def activation_form(request: Request):
    token = request.args.get("token", "")
    try:
        target = await services(request).activation.target(token)
    except InvalidToken as error:
        return render_page("activate_invalid.html", status=400, message=error.message)
    return _activation_form(token, target, errors=[])


@bp.post("/activate")
@form_body("token", "name", "password", "password_confirm")
@responds(200, media_type=HTML, description="The account is active.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
@responds(
    422, media_type=HTML,
    description="The form again, with the name (when the account has none) kept and what was "
    "wrong: the name or the password rules it broke.",
)
async def activation_submit(request: Request, form: dict[str, str]):
    token, name = form["token"], form["name"]
    service = services(request).activation
    try:
        target = await service.activate(
            token, form["password"], form["password_confirm"], name=name
        )
    except InvalidToken as error:
        return render_page("activate_invalid.html", status=400, message=error.message)
    except (InvalidPersonName, PasswordPolicyViolation) as error:
        try:
            target = await service.target(token)
        except InvalidToken as expired:  # ran out while the form was checked
            return render_page("activate_invalid.html", status=400, message=expired.message)
        if isinstance(error, InvalidPersonName):
            return _activation_form(
                token, target, errors=[], status=422, name=name, name_error=error.message
            )
        return _activation_form(
            token, target, errors=[item["message"] for item in error.details], status=422,
            name=name,
        )
    return render_page("activate_done.html", email=target.email)


# --- /confirm-email: a new login e-mail address -------------------------------------------------


@bp.get("/confirm-email")
@query("token", description="The confirmation link's token.")
@responds(200, media_type=HTML, description="The page that confirms the new address.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
async def confirm_email_page(request: Request):
    token = request.args.get("token", "")
    try:
        target = await services(request).company.email_change_target(token)
    except InvalidToken as error:
        return render_page("confirm_email_invalid.html", status=400, message=error.message)
    return render_page(
        "confirm_email.html", token=token, old_email=target.old_email, new_email=target.new_email
    )


@bp.post("/confirm-email")
@form_body("token")
@responds(200, media_type=HTML, description="The login e-mail is changed.")
@responds(400, media_type=HTML, description="The link is invalid, expired or used.")
@responds(409, media_type=HTML, description="The new address became another account's login.")
async def confirm_email_submit(request: Request, form: dict[str, str]):
    try:
        done = await services(request).company.confirm_email_change(form["token"])
    except (InvalidToken, EmailTaken) as error:
        return render_page("confirm_email_invalid.html", status=error.status, message=error.message)
    return render_page("confirm_email_done.html", new_email=done.new_email)
