"""The assistant's domain, split by area under domain/, merged into one dict.

Rasa merges the files itself (`rasa train --domain domain`); this module merges them the same
way for the tests and scripts that read the domain as data (both Python environments import it,
so it needs only PyYAML). Lists are concatenated, mappings joined; a name defined in two files is
an error, as it is for Rasa.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DOMAIN_DIR = Path(__file__).resolve().parent.parent / "domain"


def domain_files(directory: Path = DOMAIN_DIR) -> list[Path]:
    """The domain's YAML files, in a stable order."""
    return sorted(directory.glob("*.yml"))


def load_domain(directory: Path = DOMAIN_DIR) -> dict[str, Any]:
    """Every domain file merged into one dict shaped like a single domain.yml."""
    merged: dict[str, Any] = {}
    for path in domain_files(directory):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for section, value in part.items():
            if isinstance(value, list):
                merged.setdefault(section, []).extend(value)
            elif isinstance(value, dict):
                target = merged.setdefault(section, {})
                clash = sorted(set(target) & set(value))
                if clash and section != "session_config":
                    raise ValueError(f"{path.name}: {section} defined in two domain files: {clash}")
                target.update(value)
            else:
                merged[section] = value
    return merged
