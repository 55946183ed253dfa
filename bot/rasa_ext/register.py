"""Which form of address the user writes in: formal ("Pan/Pani/Państwo") or informal ("Ty").

`RegisterDetector` adds one entity `register` with the value `formal` or `informal` to a
message that clearly addresses the assistant in one of the two registers, and nothing
otherwise. The `register` slot (domain/dialogue_control.yml) is filled from it, keeps its value
for the conversation, and the responses have a formal variation conditioned on
`register: formal` (picked by bot/rasa_ext/nlg.py).

The rule is deliberately conservative: a wrong "formal" is only slightly odd, but a user who
names a third person ("dodaj panią księgową", "pan Tomasz Wrona") must not flip the register.
Words are compared folded (lower case, no diacritics: "Państwu" -> "panstwu"), so "pania",
"panstwo" count as well. A message is **formal** when it contains one of:

- "Szanowni Państwo", "Szanowny Panie", "Szanowna Pani" (any form of "szanown…"), or
  "uprzejmie proszę";
- "proszę Pana / Pani / Państwa" ("proszę pana, nie działa");
- a form of "Państwo" (Państwo, Państwa, Państwu, Państwem) next to a word that makes it an
  address: a verb or particle before it ("czy Państwo", "mogliby Państwo", "u Państwa",
  "dla Państwa", "od Państwa", "dziękuję Państwu") or a verb / a thing of the company after it
  ("Państwo mogą", "Państwa system", "Państwa konto", "Państwa infolinia") - "Państwo" alone
  ("podatki dla państwa" aside, which the conversation never is about) is not enough;
- "Pan / Pani / Pana / Panu / Panią" right next to a verb of the third person that asks the
  reader something: "czy Pani może", "może Pan sprawdzić", "Pan mógłby", "pomoże mi Pani",
  "czy Pan wie" - but not when the next word is a name or a title ("czy może pani Anna",
  "pani księgowa może", "pan Tomasz Wrona"): those name someone else.

A message is **informal** when it uses a 2nd-person-singular form addressed to the assistant
or an informal greeting: "możesz", "mógłbyś/mogłabyś", "pomożesz", "wiesz", "potrafisz",
"umiesz", "jesteś", "cześć", "hej", "hejka", "siema", "siemka", "elo". Imperatives ("zmień
pakiet", "sprawdź") are not counted: people give them to any machine, whatever register they
write in. A message with both signals ("hej, czy mogliby Państwo…") is formal. Everything
else (most messages: "nie mogę się zalogować", "dzień dobry", an e-mail address) adds nothing,
so the slot keeps what it had.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_CONFIDENCE,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_ext.polish import fold

REGISTER_ENTITY = "register"
FORMAL = "formal"
INFORMAL = "informal"

# --- the words, folded -----------------------------------------------------------------------
PANSTWO = {"panstwo", "panstwa", "panstwu", "panstwem"}
PAN_PANI = {"pan", "pana", "panu", "pani", "pania"}
PROSZE = {"prosze"}

# before "Państwo": words that make it the reader
BEFORE_PANSTWO = {
    "czy", "u", "dla", "od", "do", "przez", "z", "ze", "wam", "prosze", "dziekuje",
    "dziekujemy", "mogliby", "moglyby", "moga", "beda", "sa", "maja",
    "potrafia", "potrafiliby", "pomoga", "pomogliby", "wiedza", "sprawdza", "sprawdziliby",
    "zechca", "zechcieliby", "wyslaliby", "wysla", "podaliby", "przepraszam", "informuje",
    "zwracam", "pisze", "prosilbym", "prosilabym", "chcialbym", "chcialabym",
}
# after "Państwo"/"Państwa": verbs of the 3rd person plural and the company's things
AFTER_PANSTWO = {
    "moga", "mogliby", "moglyby", "potrafia", "sa", "maja", "wiedza", "pomoga", "pomogliby",
    "sprawdza", "sprawdziliby", "zechca", "zechcieliby", "widza", "oferuja", "wysylaja",
    "wyslali", "wyslaliby", "zmienia", "zmieniliby", "usuna", "dodadza", "odpowiedza",
    "system", "systemu", "systemie", "konto", "konta", "serwis", "serwisu", "serwisie",
    "strona", "strony", "stronie", "aplikacja", "aplikacji", "program", "programu",
    "programie", "firma", "firmy", "firmie", "infolinia", "infolinii", "pomoc", "pomocy",
    "konsultant", "konsultanci", "konsultantow", "obsluga", "obslugi", "oferta", "oferty",
    "ofercie", "platforma", "platformy", "platformie", "usluga", "uslugi", "biuro", "biura",
    "panel", "panelu", "regulamin", "regulaminu", "wsparcie", "wsparcia", "zespol",
    "zespolu", "strone", "aplikacje", "odpowiedz", "odpowiedzi",
}
# next to "Pan"/"Pani": verbs of the 3rd person singular that ask the reader for something
PAN_VERBS = {
    "moze", "moglby", "moglaby", "mogl", "mogla", "wie", "wiedzialby", "wiedzialaby",
    "pomoze", "pomoglby", "pomoglaby", "potrafi", "umie", "sprawdzi", "sprawdzilby",
    "sprawdzilaby", "poda", "podalby", "podalaby", "wysle", "wyslalby", "wyslalaby",
    "zmieni", "zmienilby", "zmienilaby", "usunie", "doda", "poradzi", "wyjasni",
    "zechce", "zechcialby", "zechcialaby", "rozumie", "powie", "powiedzialby",
    "powiedzialaby", "widzi", "polaczy", "przekaze", "odpowie",
}
# after "Pan/Pani": a title or role, so someone else is named ("pani księgowa", "pan prezes")
TITLES = {
    "ksiegowa", "ksiegowy", "ksiegowej", "ksiegowego", "prezes", "prezesa",
    "prezeska", "dyrektor", "dyrektora", "dyrektorka", "kierownik", "kierownika",
    "kierowniczka", "wlasciciel", "wlascicielka", "szef", "szefowa", "kadrowa", "kadrowy",
    "doktor", "mecenas", "inzynier", "magister", "sekretarka", "asystentka", "z", "ze",
    "od", "ktora", "ktory", "ktorej", "ktorego",
}
INFORMAL_WORDS = {
    "mozesz", "moglbys", "moglabys", "pomozesz", "pomoglbys", "pomoglabys", "wiesz",
    "potrafisz", "umiesz", "jestes", "czesc", "hej", "hejka", "siema", "siemka", "elo",
    "sprawdzisz", "wyslesz",
}

_WORD = re.compile(r"\w+", re.UNICODE)

Span = Tuple[int, int]


def _words(text: Text) -> List[Tuple[Text, Text, int, int]]:
    """(folded, original, start, end) for every word of `text`; offsets into `text`."""
    return [(fold(m.group()), m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _names_someone(words: List[Tuple[Text, Text, int, int]], index: int) -> bool:
    """Whether the word after "Pan/Pani" at `index` makes it a third person: a title
    ("pani księgowa") or a capitalised name ("pan Tomasz")."""
    if index + 1 >= len(words):
        return False
    folded, original, _, _ = words[index + 1]
    return folded in TITLES or (original[:1].isupper() and folded not in PAN_VERBS)


def _formal_span(words: List[Tuple[Text, Text, int, int]]) -> Optional[Span]:
    for i, (word, _, start, end) in enumerate(words):
        previous = words[i - 1][0] if i > 0 else ""
        following = words[i + 1][0] if i + 1 < len(words) else ""
        if word.startswith("szanown"):
            return start, end
        if word == "uprzejmie" and following in PROSZE:
            return start, words[i + 1][3]
        if word in PROSZE and following in PANSTWO | {"pana", "pani"}:
            return start, words[i + 1][3]
        if word in PANSTWO and (previous in BEFORE_PANSTWO or following in AFTER_PANSTWO):
            return start, end
        if word in PAN_PANI and not _names_someone(words, i):
            if following in PAN_VERBS or previous in PAN_VERBS:
                return start, end
            # "czy Pani mogłaby…" is caught above; "czy Pan/Pani" followed by a verb two words
            # later ("czy Pani też może") is left alone on purpose
    return None


def _informal_span(words: List[Tuple[Text, Text, int, int]]) -> Optional[Span]:
    for word, _, start, end in words:
        if word in INFORMAL_WORDS:
            return start, end
    return None


def detect_register(text: Text) -> Optional[Tuple[Text, Span]]:
    """`("formal" | "informal", (start, end))` of the first decisive words of `text`, or None.

    See the module docstring for the rule.
    """
    words = _words(text or "")
    span = _formal_span(words)
    if span:
        return FORMAL, span
    span = _informal_span(words)
    if span:
        return INFORMAL, span
    return None


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class RegisterDetector(GraphComponent):
    """Adds the entity `register` (formal / informal) when the message clearly addresses the
    assistant in one of them (module docstring). Not trainable; place it after the entity
    extractors in `config.yml`:

        - name: bot.rasa_ext.register.RegisterDetector
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """No options."""
        return {}

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Creates the component."""
        self._config = config

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RegisterDetector:
        """Creates a new component (nothing to train or persist)."""
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left as annotated."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds the `register` entity to the messages that show one."""
        for message in messages:
            text = message.get(TEXT)
            found = detect_register(text) if text else None
            if not found:
                continue
            value, (start, end) = found
            entities = list(message.get(ENTITIES) or [])
            entities.append(
                {
                    ENTITY_ATTRIBUTE_TYPE: REGISTER_ENTITY,
                    ENTITY_ATTRIBUTE_VALUE: value,
                    ENTITY_ATTRIBUTE_START: start,
                    ENTITY_ATTRIBUTE_END: end,
                    ENTITY_ATTRIBUTE_CONFIDENCE: 1.0,
                    EXTRACTOR: self.__class__.__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
