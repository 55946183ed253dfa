"""Run the account backend: python -m backend"""

from __future__ import annotations

import logging
import sys

from backend import metrics
from backend.app import create_app
from backend.settings import Settings, SettingsError


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        sys.exit(f"backend: configuration error: {error}")
    app = create_app(settings)
    if settings.metrics_port:
        metrics.serve(app, settings.metrics_host, settings.metrics_port)
    app.run(
        host=settings.host,
        port=settings.port,
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
