"""Pure e-mail builders: data in, subject and bodies out. Sending lives in mail/sender.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from backend import polish
from backend.mail.contact import TEMPLATE_GLOBAL

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def greeting(name: str | None) -> str:
    """The first line of every e-mail to an account: by name, or a neutral "Dzień dobry," for an
    account that has none yet (an invited person names themselves on the activation page)."""
    return f"Dzień dobry, {name}!" if name else "Dzień dobry,"


# Every template extends base.txt / base.html, whose footer gives these contacts; every e-mail to
# an account opens with {{ greeting(name) }}.
_templates.globals["contact"] = TEMPLATE_GLOBAL
_templates.globals["greeting"] = greeting


@dataclass(frozen=True)
class EmailContent:
    kind: str
    to_address: str
    subject: str
    text_body: str
    html_body: str


def render(kind: str, *, to_address: str, subject: str, **context) -> EmailContent:
    """Render templates/email/<kind>.txt and <kind>.html into one e-mail (the HTML title is the
    subject)."""
    context = {**context, "subject": subject}
    return EmailContent(
        kind=kind,
        to_address=to_address,
        subject=subject,
        text_body=_templates.get_template(f"{kind}.txt").render(context),
        html_body=_templates.get_template(f"{kind}.html").render(context),
    )


def password_reset(
    *, to_address: str, name: str | None, link: str, ttl_minutes: int
) -> EmailContent:
    return render(
        "password_reset",
        to_address=to_address,
        subject="Ustawienie nowego hasła – iKsięgowość24",
        name=name,
        link=link,
        ttl_text=polish.minutes(ttl_minutes, accusative=True),
    )


def password_changed(*, to_address: str, name: str | None) -> EmailContent:
    return render(
        "password_changed",
        to_address=to_address,
        subject="Twoje hasło zostało zmienione – iKsięgowość24",
        name=name,
    )
