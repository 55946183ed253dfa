"""Replacing one of Rasa's methods when Rasa imports its module, not before.

Importing most of Rasa's modules imports TensorFlow: seconds, and before Rasa has set
TensorFlow up. So a patch is put in place at once if the module is already imported, else by an
import hook the moment Rasa imports it. Every patch here was written against one Rasa series
(``RASA_SERIES``); with any other Rasa the patch is not applied and the log says so, since the
method it stands in for may have changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from typing import Any, Callable

RASA_SERIES = "3.6."


def written_for_this_rasa(logger: logging.Logger, left_in_place: str) -> bool:
    """True with the Rasa series the patches were written for; else logs what stays as Rasa
    has it (``left_in_place``) and returns False."""
    import rasa

    if rasa.__version__.startswith(RASA_SERIES):
        return True
    logger.warning(
        "%s was written for Rasa %sx, this is Rasa %s: %s.",
        logger.name, RASA_SERIES, rasa.__version__, left_in_place,
    )
    return False


def install(
    module_name: str, patch: Callable[[Any], None], logger: logging.Logger, left_in_place: str
) -> bool:
    """Puts ``patch`` in place (see ``when_imported``) if this is the Rasa it was written for;
    else says what stays as Rasa has it (``left_in_place``) and returns False."""
    if not written_for_this_rasa(logger, left_in_place):
        return False
    when_imported(module_name, patch)
    return True


def when_imported(module_name: str, patch: Callable[[Any], None]) -> None:
    """Calls ``patch(module)`` now if the module is imported, else right after Rasa imports it
    (once, however often this is called before that)."""
    module = sys.modules.get(module_name)
    if module is not None:
        patch(module)
    elif not any(
        isinstance(finder, _PatchOnImport) and finder.module_name == module_name
        for finder in sys.meta_path
    ):
        sys.meta_path.insert(0, _PatchOnImport(module_name, patch))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Finds one module as the standard path finder does and patches it once executed."""

    def __init__(self, module_name: str, patch: Callable[[Any], None]) -> None:
        self.module_name = module_name
        self.patch = patch

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.module_name:
            return None
        sys.meta_path.remove(self)  # one module, once
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            self.patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec
