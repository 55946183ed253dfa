"""Rasa's check of the action server's answers, with its validator built once.

Rasa 3.6 checks every answer of the action server against a JSON schema
(``RemoteAction._validate_action_result`` in ``rasa/core/actions/action.py``) by calling
``jsonschema.validate(result, RemoteAction.action_response_format_spec())``. That function
first checks the *schema* against JSON Schema's 2020-12 meta-schema and builds a new validator,
on every call: about 25-30 ms of CPU per custom action, a third of Rasa's CPU per turn
(docs/benchmarks/turn_profile.md). Checking the answer itself takes about 0.3 ms.

``install()`` (called by ``bot.rasa_cli`` before Rasa starts; ``bot/rasa_ext/patching.py`` puts
it in place when Rasa imports its module) replaces that method with one that does the same thing
with a validator built (and its schema checked) once per schema:

- the same schema (``action_response_format_spec()`` of the action's class),
- the same validator class (``jsonschema.validators.validator_for``, as ``validate`` picks it),
- the same error raised for an invalid answer: ``jsonschema.exceptions.best_match`` over all
  the errors, as ``validate`` does (the validator's own ``validate`` would raise the first
  error instead), with the same text Rasa appends to its message.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional, Text

from bot.rasa_ext import patching

logger = logging.getLogger(__name__)

RASA_MODULE = "rasa.core.actions.action"

# The validator for each schema function (a subclass of RemoteAction may define its own
# schema); built on first use.
_validators: Dict[Callable[[], Dict[Text, Any]], Any] = {}
# Rasa's own method, kept when it is replaced (the tests compare the two).
rasa_validate_action_result: Optional[Callable[[Any, Dict[Text, Any]], bool]] = None


def response_validator(spec: Callable[[], Dict[Text, Any]]) -> Any:
    """The validator for the schema ``spec()`` returns, built and its schema checked once."""
    validator = _validators.get(spec)
    if validator is None:
        from jsonschema.validators import validator_for

        schema = spec()
        cls = validator_for(schema)
        cls.check_schema(schema)  # what jsonschema.validate does before every validation
        validator = _validators[spec] = cls(schema)
    return validator


def validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
    """Rasa 3.6's ``RemoteAction._validate_action_result`` with a cached validator."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(response_validator(self.action_response_format_spec).iter_errors(result))
    if error is not None:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> bool:
    """Puts the cached check in place of Rasa's, now if Rasa's module is imported, else as soon
    as it is. False if this Rasa is not the one the patch was written for (nothing replaced)."""
    return patching.install(
        RASA_MODULE, _patch, logger,
        "Rasa's own check of the action server's answers is left in place (slower, same result)",
    )


def _patch(module: Any) -> None:
    global rasa_validate_action_result
    remote_action = module.RemoteAction
    if remote_action._validate_action_result is not validate_action_result:
        rasa_validate_action_result = remote_action._validate_action_result
        remote_action._validate_action_result = validate_action_result
