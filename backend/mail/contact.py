"""How customers reach us, as the backend's e-mails and messages say it.

The facts live in one configuration, common/contacts.py (the gateway and the assistant's
responses say the same); the e-mail templates get them as the ``contact`` global
(templates/email/base.*), the backend's messages import the constants."""

from __future__ import annotations

from types import MappingProxyType

from common.contacts import CONTACTS

SUPPORT_PHONE = CONTACTS.phone
SUPPORT_EMAIL = CONTACTS.support_email
# Short form of the advisers' hours, in the footer: "pon.–pt. 8:00–18:00".
SUPPORT_HOURS = CONTACTS.hours_short
# The same hours as a sentence says them ("Nasi doradcy pracują …").
ADVISER_HOURS = CONTACTS.hours_sentence
CONTACT_EMAIL = CONTACTS.contact_email

TEMPLATE_GLOBAL = MappingProxyType(
    {
        "phone": SUPPORT_PHONE,
        "support_email": SUPPORT_EMAIL,
        "hours": SUPPORT_HOURS,
        "adviser_hours": ADVISER_HOURS,
        "email": CONTACT_EMAIL,
    }
)
