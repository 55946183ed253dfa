"""The assistant's intents and entities, from its Rasa domain (``domain/*.yml``, merged by
``bot.domain_files`` as Rasa merges them), for the NLU inbox and its export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.domain_files import DOMAIN_DIR
from bot.domain_files import load_domain as merged_domain

# In the domain but never typed by a visitor, so never a label: the gateway sends
# handoff_returned itself; a message that shared a password is stored masked.
NOT_LABELS = frozenset({"handoff_returned", "share_password"})
# Entities a rule adds (bot/rasa_ext/register.py: how the visitor addresses the assistant), never
# marked in a message by hand.
NOT_MARKED = frozenset({"register"})


class DomainError(RuntimeError):
    """The domain files cannot be read."""


@dataclass(frozen=True)
class Domain:
    intents: tuple[str, ...]  # in the domain's order
    entities: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The intents an editor may give a message."""
        return tuple(intent for intent in self.intents if intent not in NOT_LABELS)


def load_domain(directory: Path = DOMAIN_DIR) -> Domain:
    try:
        content = merged_domain(directory)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise DomainError(f"cannot read the domain {directory}: {exc}") from None
    intents = _names(content.get("intents"))
    if not intents:
        raise DomainError(f"no intents in the domain {directory}")
    entities = tuple(name for name in _names(content.get("entities")) if name not in NOT_MARKED)
    return Domain(intents, entities)


def _names(items: Any) -> tuple[str, ...]:
    """Domain lists hold names, or one-key mappings of a name to its options."""
    names: list[str] = []
    for item in items or []:
        name = next(iter(item), None) if isinstance(item, dict) else item
        if isinstance(name, str) and name not in names:
            names.append(name)
    return tuple(names)
