"""The one secret detector: what a visitor typed that must never be stored in clear.

Shared by the gateway's transcript (``bot/gateway/transcript.py``, Python 3.11) and Rasa's
tracker store (``bot/rasa_ext/tracker_store.py``, Python 3.10): standard library only, no
imports from the backend, the gateway or Rasa.

``redact(text, expected=None)`` returns the text to store and the kinds of secret it found:

* passwords (``"password"``), in any phrasing: after a cue word ("hasło", "haslo", "hasłem",
  "hasła", "hsało", "password", "pass", …) followed by "to" / ":" / "=" the next word whatever it
  is, otherwise the next password-shaped word; a word right after an e-mail address that mixes
  letters with digits or special characters ("x@y.pl Zima2026!"); any password-shaped word
  (8+ characters with a digit or one of ``#$%^&*@~|\\<>=``, at least three of upper case / lower
  case / digits / special characters - sentence punctuation and separators do not count - and
  not an e-mail, a URL, a date or a product name); a message that is a single word of 8+
  lower-case letters and digits ("kotek123"). Each such word becomes ``"[hasło usunięte]"``; the rest of the message stays readable.
* PINs, verification codes, Comarch IDs and NIPs (``"pin"``, ``"code"``, ``"comarch_id"``,
  ``"nip"``) near their cue words ("PIN 4821", "pin:4821", "kod weryfikacyjny: 123 456",
  "ID 68577", "NIP 526-025-02-74", "4821 to mój PIN", ``{"pin":"4821"}``): every digit of the
  value becomes ``"•"``.
* Values in Rasa intent payloads (``/inform{"pin":"4821"}``, ``{"password":"…"}``): by key.
* With ``expected`` (the assistant has just asked for a PIN or a code): every digit of the
  message becomes ``"•"`` ("4821" alone is the PIN then); with ``expected="password"`` the whole
  message becomes ``"[hasło usunięte]"``.

E-mail addresses, package names, names, prices ("799 zł z VAT 23%"), dates and phone numbers
("32 356 22 23") are left alone. ``Redaction.secrets`` holds the masked originals so a caller can
mask the same values elsewhere in memory (entity values); it must never be stored or logged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import FrozenSet, List, Optional, Tuple

DIGIT_MASK = "•"  # replaces each digit of a PIN, a code, an ID or a NIP
PASSWORD_REDACTED_TEXT = "[hasło usunięte]"  # replaces a password

PASSWORD = "password"
PIN = "pin"
CODE = "code"
COMARCH_ID = "comarch_id"
NIP = "nip"
KINDS = (PASSWORD, PIN, CODE, COMARCH_ID, NIP)
# What the assistant may have just asked for (``expected``): digits of any of these are masked.
DIGIT_KINDS = (PIN, CODE, COMARCH_ID, NIP, "secret")

# letters/digits (a word character other than "_"): the boundaries of cue words, so that
# "comarch_id" and "verification_code" are cues too
_B = r"(?<![^\W_])"
_E = r"(?![^\W_])"

_PASSWORD_CUE = re.compile(
    _B
    + r"(?:h+[aą]*s+e?[łl]+(?:o|a|e|u|em|ami|ach|ów|ow|ko|ka|ku|kiem)?"  # hasło, haslo, hsało
    r"|ha[łl]s(?:o|a|em)"  # transposed
    r"|pass(?:word|wd|wort)?|pasword|paswd|pwd)"
    + _E,
    re.IGNORECASE,
)
_DIGIT_CUES: Tuple[Tuple[str, "re.Pattern[str]"], ...] = (
    (PIN, re.compile(_B + r"pin(?:-?(?:u|em|ie|y|ów|owi))?" + _E, re.IGNORECASE)),
    (
        CODE,
        re.compile(
            _B + r"(?:kod(?:u|em|zie|y|ów|zik|ziku)?|code|otp)" + _E, re.IGNORECASE
        ),
    ),
    (
        COMARCH_ID,
        re.compile(
            _B + r"(?:id|identyfikator(?:a|em|ze|y)?|login(?:u|em)?\s+comarch)" + _E,
            re.IGNORECASE,
        ),
    ),
    (NIP, re.compile(_B + r"nip(?:-?(?:u|em|ie))?" + _E, re.IGNORECASE)),
)
# Not a secret although a cue word is near: "kod pocztowy 40-100".
_NOT_SECRET_AFTER_CUE = re.compile(
    r"\s*(?:pocztow\w*|rabatow\w*|promocyjn\w*|źródłow\w*|kreskow\w*|qr)" + _E, re.IGNORECASE
)
_DIGIT_GROUP = r"\d+(?:[ \-]\d+)*"
# cue, separators, up to three short words on the same clause, then the digits
_AFTER_CUE = re.compile(
    r"[\s:=\-–\"'#]*(?:(?:[^\W\d_]{1,15}|nr\.?)[\s:=\-–\"'#]+){0,3}?(" + _DIGIT_GROUP + r")(?!\d)"
)
# digits, "to" / "=" / "jest", an optional pronoun, then the cue ("4821 to mój PIN")
_BEFORE_CUE = re.compile(
    r"(?<![\d])(" + _DIGIT_GROUP + r")\s*(?:to|=|jest|-|–)\s*"
    r"(?:(?:mój|moj|moje|mojego|ten|nasz|nowy|twój|twoj)\s+)?$",
    re.IGNORECASE,
)
# "key": "value" (Rasa payloads, JSON pasted into the chat)
_JSON_PAIR = re.compile(
    r"[\"']([A-Za-z_]*?(?:password|passwd|haslo|hasło|pin|code|kod|nip|grant|token|secret)"
    r"[A-Za-z_]*|[A-Za-z_]*_id|id)[\"']\s*:\s*(?:\"((?:[^\"\\]|\\.)*)\"|'([^']*)'|(-?\d+))",
    re.IGNORECASE,
)

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DATE = re.compile(r"^\d{1,4}[./\-]\d{1,2}(?:[./\-]\d{1,4})?(?:[T ]\S*)?$")
# Product and brand names that look like passwords, as whole words only: "iKsięgowość24" is the
# product, "Ksiegowosc!2025" or "Comarch2024#" is a password built on it. After an explicit cue
# ("hasło to …") even a product name is masked: it is then the password.
_NOT_PASSWORDS = re.compile(
    r"(?:ing-)?i?k[sś]i[eę]gowo[sś][cć](?:24)?(?:\.pl)?|comarch(?:\d{1,2})?", re.IGNORECASE
)
_TOKEN = re.compile(r"\S+")
_LEAD = "\"'([{<:=«„"
_TRAIL = "\"')]}>,.;:»”"
# Separators and sentence punctuation that do not make a word "special" ("PIT-37",
# "FV/2026/11", "JPK_V7M", "Świetnie!", "iPhone'a").
_PLAIN_PUNCTUATION = set("-./_,:;()'\"!?+")
# Without a digit, a word needs one of these to look like a password ("Kasztan#Lato").
_STRONG_SPECIAL = set("#$%^&*@~|\\<>=")
# After "hasło to": a word that is not the password.
_NOT_A_PASSWORD_WORD = {
    "nie", "za", "zbyt", "też", "tez", "już", "juz", "chyba", "coś", "cos", "samo", "same",
    "problem", "błędne", "bledne", "złe", "zle", "jakieś", "jakies", "nowe", "stare", "moje",
    "tajne", "poufne", "dobre", "prawidłowe", "nieprawidłowe", "jest", "było", "bylo", "był",
    "mam", "ma", "się", "sie", "?", "!",
}
# Words allowed between a password cue (or an e-mail address) and the password.
_PASSWORD_FILLERS = {
    "to", "jest", "brzmi", "mam", "moje", "mojego", "mój", "moj", "do", "konta", "panelu",
    "systemu", "logowania", "aplikacji", "obecne", "aktualne", "stare", "nowe", "i", "a",
    "oraz", "z", "ze", "is", "my", "-", "–", "/", "|", ":", "=", "hasło", "haslo", "hasłem",
    "haslem", "password", "pass", "login", "loginem",
}
_STRONG_CONNECTORS = {"to", "brzmi", ":", "=", "is"}


@dataclass(frozen=True)
class Redaction:
    """The text to store, the kinds of secret found, and (in memory only) what was masked."""

    text: str
    kinds: FrozenSet[str] = frozenset()
    secrets: Tuple[str, ...] = field(default=(), repr=False, compare=False)

    @property
    def found(self) -> bool:
        return bool(self.kinds)


def redact(text: str, expected: Optional[str] = None) -> Redaction:
    """Masks every secret in ``text`` (see the module's docstring).

    ``expected``: what the assistant has just asked for - ``"pin"``, ``"code"`` or ``"secret"``
    (every digit of the message is masked) or ``"password"`` (the whole message is).
    """
    if not isinstance(text, str) or not text:
        return Redaction(text if isinstance(text, str) else "")
    if expected == PASSWORD:
        return Redaction(PASSWORD_REDACTED_TEXT, frozenset({PASSWORD}), (text,))

    spans: List[Tuple[int, int, str]] = []  # (start, end, kind)
    _json_pairs(text, spans)
    _digit_cues(text, spans)
    _password_cues(text, spans)
    _email_pairs(text, spans)
    _password_shapes(text, spans)
    if expected in DIGIT_KINDS:
        kind = CODE if expected == "secret" else expected
        for match in re.finditer(_DIGIT_GROUP, text):
            spans.append((match.start(), match.end(), kind))
    return _apply(text, spans)


# ------------------------------------------------------------------------------ detection


def _json_pairs(text: str, spans: List[Tuple[int, int, str]]) -> None:
    for match in _JSON_PAIR.finditer(text):
        key = match.group(1).lower()
        group = next(i for i in (2, 3, 4) if match.group(i) is not None)
        start, end = match.span(group)
        if start == end:
            continue
        if any(word in key for word in ("password", "passwd", "haslo", "hasło", "grant",
                                        "token", "secret")):
            spans.append((start, end, PASSWORD))
            continue
        if key == "id" or key.endswith("_id"):
            if key not in ("id", "comarch_id"):
                continue
            kind = COMARCH_ID
        elif "pin" in key:
            kind = PIN
        elif "nip" in key:
            kind = NIP
        else:
            kind = CODE
        for digits in re.finditer(r"\d+", match.group(group)):
            spans.append((start + digits.start(), start + digits.end(), kind))


def _digit_cues(text: str, spans: List[Tuple[int, int, str]]) -> None:
    for kind, cue in _DIGIT_CUES:
        for match in cue.finditer(text):
            if _NOT_SECRET_AFTER_CUE.match(text, match.end()):
                continue
            after = _AFTER_CUE.match(text, match.end())
            if after is not None:
                spans.append((after.start(1), after.end(1), kind))
            before = _BEFORE_CUE.search(text[max(0, match.start() - 40) : match.start()])
            if before is not None:
                offset = max(0, match.start() - 40)
                spans.append((offset + before.start(1), offset + before.end(1), kind))


def _words_after(text: str, position: int, limit: int):
    """Up to ``limit`` words after ``position`` on the same clause: (start, end, word)."""
    words = []
    for match in _TOKEN.finditer(text, position):
        if len(words) >= limit:
            break
        start, end = match.span()
        if "\n" in text[position:start]:
            break
        words.append((start, end, match.group()))
    return words


def _strip(start: int, end: int, text: str) -> Tuple[int, int]:
    while start < end and text[start] in _LEAD:
        start += 1
    while end > start and text[end - 1] in _TRAIL:
        end -= 1
    return start, end


def _password_cues(text: str, spans: List[Tuple[int, int, str]]) -> None:
    for cue in _PASSWORD_CUE.finditer(text):
        strong = False
        for start, end, raw in _words_after(text, cue.end(), 5):
            if raw[0] in ":=" and start == cue.end():
                strong = True  # "hasło:kot", "hasło=kot"
            value_start, value_end = _strip(start, end, text)
            word = text[value_start:value_end]
            if not word:
                strong = strong or raw.strip() in _STRONG_CONNECTORS
                continue
            lowered = word.lower()
            if lowered in _STRONG_CONNECTORS:
                strong = True
                continue
            if _PASSWORD_CUE.fullmatch(word) or lowered in _PASSWORD_FILLERS:
                continue
            if _EMAIL.fullmatch(word) or _URL.match(word):
                break
            if strong and lowered not in _NOT_A_PASSWORD_WORD:
                spans.append((value_start, value_end, PASSWORD))
            elif _password_like(word, relaxed=True):
                spans.append((value_start, value_end, PASSWORD))
            break


def _email_pairs(text: str, spans: List[Tuple[int, int, str]]) -> None:
    for email in _EMAIL.finditer(text):
        for start, end, raw in _words_after(text, email.end(), 4):
            value_start, value_end = _strip(start, end, text)
            word = text[value_start:value_end]
            if not word or word.lower() in _PASSWORD_FILLERS or _PASSWORD_CUE.fullmatch(word):
                continue
            if (
                not _EMAIL.fullmatch(word)
                and not _URL.match(word)
                and any(c.isalpha() for c in word)
                and any(not c.isalpha() for c in word)
                and len(word) >= 4
                and not _NOT_PASSWORDS.fullmatch(word)
            ):
                spans.append((value_start, value_end, PASSWORD))
            break


def _password_shapes(text: str, spans: List[Tuple[int, int, str]]) -> None:
    tokens = list(_TOKEN.finditer(text))
    for match in tokens:
        start, end = _strip(match.start(), match.end(), text)
        word = text[start:end]
        if word.startswith("/") and start == 0:
            continue  # a Rasa intent payload: its values are checked by key (_json_pairs)
        if _password_like(word) or (len(tokens) == 1 and _lone_credential(word)):
            spans.append((start, end, PASSWORD))


def _password_like(word: str, relaxed: bool = False) -> bool:
    """8+ characters mixing at least three classes (relaxed, after a cue: 4+ and two)."""
    if len(word) < (4 if relaxed else 8):
        return False
    if _EMAIL.search(word) or _URL.match(word) or _DATE.match(word):
        return False
    if not relaxed and _NOT_PASSWORDS.fullmatch(word):
        return False
    upper = any(c.isupper() for c in word)
    lower = any(c.islower() for c in word)
    digit = any(c.isdigit() for c in word)
    special = any(
        not c.isalnum() and not c.isspace() and c not in _PLAIN_PUNCTUATION for c in word
    )
    if relaxed:
        # after "hasło"/"hasłem" (no "to"): anything that is not a plain word
        return digit or special or (upper and lower and not word[1:].islower())
    if not (upper or lower):
        return False
    if not (digit or any(c in _STRONG_SPECIAL for c in word)):
        return False
    return upper + lower + digit + special >= 3


def _lone_credential(word: str) -> bool:
    """A whole message of one 8+ character word of letters and digits ("kotek123")."""
    return (
        len(word) >= 8
        and word.isalnum()
        and any(c.islower() for c in word)
        and any(c.isdigit() for c in word)
        and not _EMAIL.search(word)
        and not _URL.match(word)
        and not _NOT_PASSWORDS.fullmatch(word)
    )


# ------------------------------------------------------------------------------ masking


def _apply(text: str, spans: List[Tuple[int, int, str]]) -> Redaction:
    if not spans:
        return Redaction(text)
    # A password span swallows the digit spans inside it; overlapping spans merge.
    spans.sort(key=lambda span: (span[0], -span[1]))
    merged: List[List] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            if kind == PASSWORD:
                last[2] = PASSWORD
            last[3].add(kind)
            continue
        merged.append([start, end, kind, {kind}])
    out: List[str] = []
    kinds = set()
    secrets = []
    position = 0
    for start, end, kind, found in merged:
        out.append(text[position:start])
        value = text[start:end]
        if kind == PASSWORD:
            out.append(PASSWORD_REDACTED_TEXT)
        else:
            out.append(re.sub(r"\d", DIGIT_MASK, value))
        secrets.append(value)
        kinds.update(found)
        position = end
    out.append(text[position:])
    return Redaction("".join(out), frozenset(kinds), tuple(secrets))
