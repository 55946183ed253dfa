"""How customers reach us: the support contacts every e-mail ends with, stated once.

The e-mail templates get them as the ``contact`` global (templates/email/base.*); the backend's
messages import the constants."""

from __future__ import annotations

from types import MappingProxyType

# Technical support of the guides ("Pomoc" in every e-mail's footer).
SUPPORT_PHONE = "32 356 22 23"
SUPPORT_EMAIL = "wsparcie@ingksiegowosc.pl"
# Short form of the advisers' hours, in the footer.
SUPPORT_HOURS = "pon.–pt. 8:00–18:00"
# The same hours as a sentence says them ("Nasi doradcy pracują …").
ADVISER_HOURS = "od poniedziałku do piątku w godz. 8:00–18:00"
# Where to write about an account, a licence or a package that someone else changed.
CONTACT_EMAIL = "kontakt@iksiegowosc24.pl"

TEMPLATE_GLOBAL = MappingProxyType(
    {
        "phone": SUPPORT_PHONE,
        "support_email": SUPPORT_EMAIL,
        "hours": SUPPORT_HOURS,
        "adviser_hours": ADVISER_HOURS,
        "email": CONTACT_EMAIL,
    }
)
