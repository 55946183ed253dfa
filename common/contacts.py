"""How customers reach a person: the support phone, the e-mail addresses, the advisers' hours.

The one configuration of these facts. The backend reads it (every e-mail's footer, its
messages: backend/mail/contact.py), the gateway reads it (business hours in bot/gateway/hours.py,
the desk's and the console's contact lines, error messages), and the assistant's responses in
domain/ write the same values, which tests/backend/test_contacts.py checks against this module.

Standard library only, Python 3.10-compatible (see common/polish.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class Contacts:
    # Technical support of the user guides ("Pomoc" in every e-mail's footer).
    phone: str
    support_email: str
    # Where to write about an account, a licence or a package someone else changed.
    contact_email: str
    # The website whose chat the customer is in.
    website: str
    # When advisers work (Europe/Warsaw, except Polish public holidays): first and last workday
    # (Monday = 0) and the opening and closing time (closing exclusive).
    first_workday: int
    last_workday: int
    opens: time
    closes: time

    @property
    def workdays(self) -> frozenset[int]:
        return frozenset(range(self.first_workday, self.last_workday + 1))

    @property
    def hours_range(self) -> str:
        """ "8:00–18:00"."""
        return f"{_clock(self.opens)}–{_clock(self.closes)}"

    @property
    def hours_short(self) -> str:
        """The advisers' hours in a footer: "pon.–pt. 8:00–18:00"."""
        days = f"{_SHORT_DAYS[self.first_workday]}–{_SHORT_DAYS[self.last_workday]}"
        return f"{days} {self.hours_range}"

    @property
    def hours_sentence(self) -> str:
        """The hours as a sentence says them: "od poniedziałku do piątku w godz. 8:00–18:00"."""
        return (
            f"od {_FROM_DAYS[self.first_workday]} do {_TO_DAYS[self.last_workday]} "
            f"w godz. {self.hours_range}"
        )


_SHORT_DAYS = ("pon.", "wt.", "śr.", "czw.", "pt.", "sob.", "niedz.")
_FROM_DAYS = ("poniedziałku", "wtorku", "środy", "czwartku", "piątku", "soboty", "niedzieli")
_TO_DAYS = _FROM_DAYS


def _clock(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


CONTACTS = Contacts(
    phone="32 356 22 23",
    support_email="wsparcie@ingksiegowosc.pl",
    contact_email="kontakt@iksiegowosc24.pl",
    website="ingksiegowosc.pl",
    first_workday=0,
    last_workday=4,
    opens=time(8, 0),
    closes=time(18, 0),
)
