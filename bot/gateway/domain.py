"""The assistant's intents and entities, read from its Rasa domain files (``domain.yml``, or
every ``*.yml`` under a ``domain/`` directory), for the NLU inbox and its export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.gateway.settings import PROJECT_ROOT

DEFAULT_DOMAIN = PROJECT_ROOT / "domain.yml"
# In the domain but never typed by a visitor, so never a label: the gateway sends
# handoff_returned itself; a message that shared a password is stored masked.
NOT_LABELS = frozenset({"handoff_returned", "share_password"})


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


def load_domain(path: Path = DEFAULT_DOMAIN) -> Domain:
    """One file, or a directory of files whose lists are joined (as Rasa does)."""
    files = sorted(path.rglob("*.yml")) + sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
    intents: list[str] = []
    entities: list[str] = []
    for file in files:
        try:
            content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DomainError(f"cannot read the domain {file}: {exc}") from None
        if not isinstance(content, dict):
            raise DomainError(f"the domain {file} is not a mapping")
        _extend(intents, content.get("intents"))
        _extend(entities, content.get("entities"))
    if not intents:
        raise DomainError(f"no intents in the domain {path}")
    return Domain(tuple(intents), tuple(entities))


def _extend(names: list[str], items: Any) -> None:
    """Domain lists hold names, or one-key mappings of a name to its options."""
    for item in items or []:
        name = next(iter(item), None) if isinstance(item, dict) else item
        if isinstance(name, str) and name not in names:
            names.append(name)
