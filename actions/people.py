"""Reading people out of free text for the company-user journeys: whose e-mail an address in a
message is (the visitor's own, the member's, the new login), a person's whole name, and finding
a member of the company by name.

Text rules only (no NLU entity decides): the same message read by any classifier gives the same
values. Polish letters, hyphenated surnames and case forms ("Tomasza Wronę") are handled by
folding (lower case, no diacritics) and a tolerant comparison of word stems.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple

from actions.validators import normalize_email

# An address-like token (the same characters as actions/validators.py accepts).
_EMAIL_TOKEN = re.compile(r"[^\s<>()\[\]{},;:\"'„”]+@[^\s<>()\[\]{},;:\"'„”]+")

_UPPER = "A-ZĄĆĘŁŃÓŚŹŻ"
_LOWER = "a-ząćęłńóśźżäöüéè"
# A capitalised name word, hyphenated parts included ("Kowalczyk-Nowak", "Żółć").
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]{{2,}}(?:-[{_UPPER}][{_LOWER}]+)*"  # 3 letters at least: "Na razie" is no name
_NAME_RUN = re.compile(rf"(?<![\w@.-]){_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}(?![\w@-])")
_WORD = re.compile(rf"[{_UPPER}{_LOWER}]+(?:['’-][{_UPPER}{_LOWER}]+)*", re.IGNORECASE)

# Capitalised words that are not names (sentence starts, products, politeness), folded.
_NOT_NAMES = frozenset(
    """
    dodaj dodac dodajcie dodajmy zapros zaproscie usun usuncie usunac skasuj skasujcie wyrzuc
    zmien zmiencie zmienic zmiana zmiane prosze prosimy czy chce chcialbym chcialabym chcemy
    dzien dobry dobrywieczor witam witajcie hej halo czesc szanowni szanowny szanowna panstwo
    pan pana pani panie panu pania ing ksiegowosc ksiegowosci office comarch cloud iksiegowosc
    iksiegowosc24 nie tak ok okej dobrze dzieki dziekuje jak gdzie kto co ten ta to jego jej
    jest ma mam nasz nasza nasze moj moja moje mojej mojego user uzytkownik uzytkownika
    uzytkownikowi uzytkownikiem osoba osobe osoby rola role roli nowy nowa nowego nowej
    pracownik pracownika pracownikowi pracownica pracownice magazynier magazyniera magazynierka
    ksiegowy ksiegowa ksiegowej ksiegowego ksiegowa zarzad zarzadu pelnomocnik pelnomocnika
    wlasciciel wlasciciela prezes prezesa popraw poprawcie jednak niech byc ma ona on
    imie nazwisko nazywa sie login mail maila email adres adresu mailowego e-mail e-maila
    dostep dostepu firma firmy firmie konto konta koncie pamietam wiem znam jego jej ich mu
    kto ktory ktora gdzie kiedy dlaczego czemu ile prosze pomocy pomoc telefon numer
    moge mozna da sie siebie mnie mi kogos wszystkich wszystko kazdego teraz juz jeszcze
    firmowe aplikacji aplikacja dostepy uprawnienia
    obecny obecna obecnie aktualny aktualna aktualnie stary stara starego poprzedni poprzednia
    dotychczasowy dotychczasowa sorry sorki sory przepraszam pardon
    """.split()
)

# Words around a name in an answer ("nazywa się …", "to …", "ma być …").
_NAME_CUES = re.compile(
    r"^\s*(?:(?:popraw(?:cie)?|zmie[nń](?:cie)?)\b\s*(?:imi[eę](?:\s+i\s+nazwisko)?|nazwisko|dane)?"
    r"\s*(?:na)?\s*[:,-]?\s*)?"
    r"(?:(?:nie\s*,?\s*)?(?:ma\s+by[cć]|powinno\s+by[cć]|powinien\s+by[cć]|mia[lł]o\s+by[cć]|"
    r"jednak|chodzi\s+o|to\s+jest|nazywa\s+si[eę]|ma\s+na\s+imi[eę]|imi[eę]\s+i\s+nazwisko"
    r"(?:\s+to)?|to)\b\s*[:,-]?\s*)?",
    re.IGNORECASE,
)

# Cues before an address (folded text): the visitor's own, the new login.
_OWN_PHRASE = (
    r"(?:\bjestem\b|\bja\s+to\b|\b(?:moj|moje|mojego|moim|swoj|swojego|swoim)\s+"
    r"(?:adres\w*|mail\w*|e-?mail\w*|login\w*|konto|konta|koncie)\b"
    r"|\bloguje\s+sie(?:\s+(?:jako|na|przez))?\b|\bz\s+(?:mojego\s+)?konta\b"
    r"|\bkonto\s+(?:mam\s+)?na\b)"
)
# right before the address ("mój mail to x", "konto mam na x") / anywhere before it; also
# "jestem właścicielem, x" and a clause of its own that names the account: "…, konto x"
_OWN_RIGHT_BEFORE = re.compile(
    r"(?:" + _OWN_PHRASE + r"\s*(?:to|jest|:|-)?\s*(?:to\s*)?:?"
    r"|\bjestem\s+\w+\s*[,:-]?|(?:^|[,;.!?])\s*(?:a\s+|i\s+)?(?:moje\s+)?konto\s*:?)\s*$"
)
_OWN_CUE = re.compile(_OWN_PHRASE + r"[^@,;.!?]*$")  # within the same clause
_NEW_CUE = re.compile(
    r"(?:\bna\s*:?|\bnowy\w*(?:\s+(?:adres\w*|mail\w*|e-?mail\w*|login\w*))?"
    r"(?:\s+(?:to|bedzie|ma\s+byc))?\s*[:=-]?)\s*$"
)
# "zmień mi login", "mój login", "swój adres" - the visitor's own login is the one to change.
_OWN_LOGIN = re.compile(
    r"\b(?:mi|moj|moje|mojego|swoj|swojego|moim|swoim|sobie)\b", re.IGNORECASE
)
# Words that bring another person into a request ("zmień login pracownika", "jej adres").
_OTHER_PERSON = re.compile(
    r"\b(?:uzytkownik\w*|pracownik\w*|pracownic\w*|ksiegow(?:a|ej|e|ego|emu|y|ym|ych|i)"
    r"|kogos|komus|jego|jej|ich|osob\w*|wspolnik\w*|kolez\w*|kolega|kolegi|szef\w*"
    r"|pani|pana|panu)\b",
    re.IGNORECASE,
)
# "z X na Y", "obecny adres: X", "aktualny login to X": X is the current address.
_FROM_CUE = re.compile(
    r"(?:\bz\s*:?|\b(?:obecn|aktualn|star|dotychczasow)\w*\s+(?:adres\w*|mail\w*|e-?mail\w*"
    r"|login\w*)(?:\s+(?:to|jest|mam))?\s*[:=-]?)\s*$"
)


def fold(text: Any) -> str:
    """Lower case without Polish diacritics ("Żółć" -> "zolc")."""
    if not isinstance(text, str):
        return ""
    text = text.casefold().replace("ł", "l")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- e-mail addresses in a message ------------------------------------------------------------


@dataclass
class MessageAddresses:
    """The addresses of one message by whose they are."""

    own: List[str] = field(default_factory=list)
    member: List[str] = field(default_factory=list)
    new: List[str] = field(default_factory=list)
    # an address after "z" in "z X na Y" or after "obecny adres" (the current login)
    current: List[str] = field(default_factory=list)

    def all(self) -> List[str]:
        return self.own + self.current + self.member + self.new


def addresses_in(text: Any) -> List[Tuple[str, int, int]]:
    """Valid addresses in the text with their offsets, in order."""
    found: List[Tuple[str, int, int]] = []
    if not isinstance(text, str):
        return found
    for match in _EMAIL_TOKEN.finditer(text):
        email = normalize_email(match.group(0))
        if email is not None and email not in (e for e, _, _ in found):
            found.append((email, match.start(), match.end()))
    return found


def classify_addresses(text: Any) -> MessageAddresses:
    """Whose each address is, by the words right before it ("jestem x", "na y", "z x na y")."""
    result = MessageAddresses()
    previous_end = 0
    for email, start, end in addresses_in(text):
        before = fold(text[max(previous_end, start - 60) : start])
        # the nearest cue wins: "mój mail to x" (own), "zmień mój login na x" (new)
        if _OWN_RIGHT_BEFORE.search(before):
            result.own.append(email)
        elif _NEW_CUE.search(before):
            result.new.append(email)
        elif _FROM_CUE.search(before):
            result.current.append(email)
        elif _OWN_CUE.search(before):
            result.own.append(email)
        else:
            result.member.append(email)
        previous_end = end
    return result


def speaks_of_own_login(text: Any) -> bool:
    """ "zmień mi login", "mój adres", "swój e-mail"."""
    return bool(_OWN_LOGIN.search(fold(text)))


def speaks_of_another_person(text: Any) -> bool:
    """ "zmień login pracownika", "jej adres", "login naszej księgowej"."""
    return bool(_OTHER_PERSON.search(fold(text)))


# --- names ------------------------------------------------------------------------------------


def _is_name_word(word: str) -> bool:
    return fold(word) not in _NOT_NAMES


def name_runs(text: Any) -> List[Tuple[str, int]]:
    """Capitalised word runs that can be names ("Tomasz Wrona", "Kowalczyk-Nowak"), with their
    offsets; leading and trailing non-name words ("Dodaj", "Pani") are dropped."""
    runs: List[Tuple[str, int]] = []
    if not isinstance(text, str):
        return runs
    for match in _NAME_RUN.finditer(text):
        words = match.group(0).split()
        offset = match.start()
        while words and not _is_name_word(words[0]):
            offset = text.index(words[1], offset + len(words[0])) if len(words) > 1 else offset
            words = words[1:]
        while words and not _is_name_word(words[-1]):
            words = words[:-1]
        if words and all(_is_name_word(w) for w in words):
            runs.append((" ".join(words), offset))
    return runs


def _capitalise(word: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def name_from_answer(text: Any) -> Optional[str]:
    """The whole name a person typed when asked for it ("nazywa się Tomasz Wrona",
    "ma być Ewa Lis", "tomasz wrona, magazynier"): cue words dropped, cut at a comma, "jako" or
    an address; words typed all in lower case are capitalised. None if no name is there."""
    if not isinstance(text, str):
        return None
    text = _EMAIL_TOKEN.sub(" ", text)
    text = _NAME_CUES.sub("", text.strip(), count=1)
    text = re.split(r"[,;:()\n]|\s+-\s+|\s+(?:jako|z\s+rol[aąę]|rola)\s+", text, maxsplit=1)[0]
    words = _WORD.findall(text)
    if not words or len(words) > 5:
        return None
    if all(w.islower() for w in words):
        words = [_capitalise(w) for w in words]
    return " ".join(words)


def name_in_request(text: Any) -> Optional[str]:
    """A name written in the nominative in a request ("dodaj użytkownika Tomasz Wrona,
    t.wrona@…"); None when it looks inflected ("dodaj Tomasza Wronę") - then it is left out
    (a name goes into the invitation as written; the invited person gives it when activating)."""
    runs = name_runs(text)
    if not runs:
        return None
    name, offset = max(runs, key=lambda run: len(run[0].split()))
    words = name.split()
    if len(words) < 2:
        return None
    if any(w[-1:] in "ęą" for w in words):  # "Annę Zielińską", "Tomasza Wronę"
        return None
    before = fold(text[:offset]).split()
    if before and re.match(r"^(dodaj\w*|dodac|zapros\w*|dac|daj)$", before[-1]):
        # right after the verb the name is in the accusative ("dodaj Piotra Nowaka")
        if fold(words[0]).endswith("a") or fold(words[-1]).endswith(("a", "ego")):
            return None
    return name


# --- a name in the genitive -------------------------------------------------------------------

# "na pana Jana Nowickiego", "właściciela, pana Jana…", "licencja pani Anny Nowickiej": after
# "pana" the name is in the genitive (or accusative, the same form for men); after "pani" it is
# when the first name ends as a genitive does (Anny, Ewy, Marii); after "panią" it is in the
# accusative (Annę Nowicką).
_TITLE_BEFORE = re.compile(r"(?<!\w)(pana|pani|panią)\s+$", re.IGNORECASE)
# Men's first names whose genitive drops an "e" (Marek -> Marka): not derivable by rule.
_MALE_GENITIVE_FIRST_NAMES = {
    "marka": "Marek", "jacka": "Jacek", "leszka": "Leszek", "pawla": "Paweł",
    "wojtka": "Wojtek", "franciszka": "Franciszek", "zbyszka": "Zbyszek", "karola": "Karol",
}


def _male_nominative(word: str, first: bool) -> str:
    folded = fold(word)
    if first and folded in _MALE_GENITIVE_FIRST_NAMES:
        return _MALE_GENITIVE_FIRST_NAMES[folded]
    if folded.endswith("iego"):
        return word[:-3]  # Nowickiego -> Nowicki, Antoniego -> Antoni
    if folded.endswith("ego"):
        return word[:-3] + "y"  # Jerzego -> Jerzy
    if (folded.endswith("y") or word.endswith("ę")) and not first:
        return word[:-1] + "a"  # Wrony, Wronę -> Wrona
    if folded.endswith("a"):
        return word[:-1]  # Jana -> Jan, Nowaka -> Nowak
    return word


def _female_nominative(word: str) -> str:
    folded = fold(word)
    if folded.endswith(("kiej", "giej")):
        return word[:-3] + "a"  # Nowickiej -> Nowicka
    if folded.endswith("ej"):
        return word[:-2] + "a"  # Nowej -> Nowa
    if folded.endswith("ii"):
        return word[:-1] + "a"  # Marii -> Maria
    if folded.endswith("y"):
        return word[:-1] + "a"  # Anny -> Anna, Wrony -> Wrona
    if folded.endswith(("si", "zi", "ci", "ni")):
        return word + "a"  # Kasi -> Kasia
    return word  # Lis, Nowak: women's surnames ending in a consonant do not change


def nominative_after_title(text: Any, name: str) -> str:
    """The name in the nominative when the text has it in the genitive after "pana" / "pani"
    ("pana Jana Nowickiego" -> "Jan Nowicki", "pani Anny Nowickiej" -> "Anna Nowicka"); any
    other name as it is. Irregular surnames (Wróbla) stay inflected: the summary shows them."""
    if not isinstance(text, str) or not name:
        return name
    position = text.find(name)
    title = _TITLE_BEFORE.search(text[:position]) if position >= 0 else None
    words = name.split()
    if title is None or len(words) < 2:
        return name
    title_word = title.group(1).lower()
    if title_word == "pana":
        return " ".join(
            "-".join(_male_nominative(part, i == 0) for part in w.split("-"))
            for i, w in enumerate(words)
        )
    if title_word == "panią":  # accusative: Annę Nowicką -> Anna Nowicka
        return " ".join(w[:-1] + "a" if w.endswith(("ę", "ą")) else w for w in words)
    if fold(words[0]).endswith(("y", "i")):
        return " ".join("-".join(map(_female_nominative, w.split("-"))) for w in words)
    return name


# --- finding a member by name -----------------------------------------------------------------


def _tokens(text: Any) -> List[str]:
    return [fold(w) for w in _WORD.findall(text or "") if len(w) >= 2]


# Case endings of short first names: Ewa -> Ewie, Ewy, Ewę, Ewą, Ewo; Jan -> Jana, Janowi, Janem.
_SHORT_NAME_ENDINGS_A = frozenset({"a", "ie", "y", "e", "o"})
_SHORT_NAME_ENDINGS = frozenset({"a", "owi", "em", "ie", "u"})


def _same_word(query: str, name: str) -> bool:
    """Equal, or the same word in another case ("wrone"/"wrona", "tomasza"/"tomasz",
    "ewie"/"ewa", "jana"/"jan")."""
    if query == name:
        return True
    if len(name) == 3 and name.isalpha():
        if name.endswith("a"):
            return query[:2] == name[:2] and query[2:] in _SHORT_NAME_ENDINGS_A
        return query[:3] == name and query[3:] in _SHORT_NAME_ENDINGS
    if min(len(query), len(name)) < 4:
        return False
    common = 0
    for a, b in zip(query, name):
        if a != b:
            break
        common += 1
    return common >= max(4, min(len(query), len(name)) - 1) and abs(len(query) - len(name)) <= 3


def query_words(text: Any) -> List[str]:
    """The words of a message that may name a person: the capitalised runs if any, else the
    words that are not common ones ("tomasz wrona, nie pamietam jego maila" -> tomasz wrona…)."""
    runs = name_runs(text)
    if runs:
        return [t for name, _ in runs for t in _tokens(name)]
    return [
        t
        for t in _tokens(_EMAIL_TOKEN.sub(" ", text or ""))
        if len(t) >= 3 and t not in _NOT_NAMES
    ]


def find_members_by_name(
    members: Iterable[Dict[str, Any]], text: Any
) -> List[Dict[str, Any]]:
    """The members whose name the text names best (whole name before surname only); several
    when it is ambiguous, none when nobody matches."""
    words = query_words(text)
    if not words:
        return []
    scored: List[Tuple[int, Dict[str, Any]]] = []
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("name"), str):
            continue
        parts = _tokens(member["name"])
        matched = {i for i, part in enumerate(parts) for w in words if _same_word(w, part)}
        if matched:
            scored.append((len(matched), member))
    if not scored:
        return []
    best = max(score for score, _ in scored)
    return [member for score, member in scored if score == best]


def looks_like_name(text: Any) -> bool:
    return bool(query_words(text))
