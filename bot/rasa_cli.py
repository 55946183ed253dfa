"""Rasa's command line with the known third-party deprecation noise silenced
(common/third_party_warnings.py): ``python -m bot.rasa_cli run …`` is ``rasa run …``.

The Procfile starts Rasa this way, so ``make run`` shows the health lines and the warnings that
matter; everything else about Rasa is unchanged (same arguments, same exit code).
"""

from __future__ import annotations

import sys

from common import third_party_warnings


def main() -> None:
    third_party_warnings.silence()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
