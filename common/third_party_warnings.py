"""The deprecation warnings Rasa's and rasa-sdk's own dependencies print at every start, silenced
by module so the start-up shows the health lines and the warnings that matter.

Measured on ``rasa run`` with the trained model (and ``python -m actions.server``): every
DeprecationWarning printed came from one of ``THIRD_PARTY`` - Rasa 3.6 itself (SQLAlchemy 2.0
``MovedIn20Warning``, ``URL()``, ``pkg_resources``), ``pkg_resources`` (namespace packages),
sanic-cors (``distutils`` versions) and matplotlib (pyparsing's old names). We cannot fix them
and nothing can be done about them in a deployment.

Targeted: only warnings of the DeprecationWarning family, and only those a module of that list
raises. Our own modules (``actions``, ``bot``, ``common``) keep every warning, and so does any
other third-party module, so a new deprecation still shows.

Sanic 21.12 (Rasa's) puts ``once::DeprecationWarning`` in front of every filter when it is
imported, which beats PYTHONWARNINGS and -W; ``silence`` imports it first and then adds these
filters in front of it. Standard library only, Python 3.10 (the Rasa environment calls it).
"""

from __future__ import annotations

import importlib
import re
import warnings

THIRD_PARTY = ("rasa", "pkg_resources", "sanic_cors", "matplotlib")


def module_pattern(package: str) -> str:
    """The package and everything below it: "rasa", "rasa.core.tracker_store" (not "rasa_sdk")."""
    return rf"{re.escape(package)}(\..*)?\Z"


def silence(packages: tuple[str, ...] = THIRD_PARTY) -> None:
    """Ignore DeprecationWarning (and its subclasses) raised in ``packages``."""
    try:  # its import-time filter must already be in place, or it would go in front of ours
        importlib.import_module("sanic")
    except ImportError:
        pass
    for package in packages:
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=module_pattern(package)
        )
