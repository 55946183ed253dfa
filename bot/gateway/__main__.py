"""Run the gateway: ``python -m bot.gateway`` (configured by environment variables)."""

from __future__ import annotations

import logging
import sys

from bot.gateway import exposition
from bot.gateway.app import create_app
from bot.gateway.settings import Settings, SettingsError


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    app = create_app(settings)
    if settings.metrics_port:
        exposition.serve(app, settings.metrics_host, settings.metrics_port)
    print(f"gateway: http://{settings.host}:{settings.port}", flush=True)
    app.run(
        host=settings.host,
        port=settings.port,
        single_process=True,
        access_log=False,
        motd=False,
    )
    return 0


def configure_logging() -> None:
    # Only our logger: Sanic configures its own, and the root logger would duplicate them.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("pomocnik")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


if __name__ == "__main__":
    sys.exit(main())
