"""Run the mail sink: `python -m mailsink` (settings from MAILSINK_* environment variables)."""

from __future__ import annotations

import logging
import sys

from sanic import Sanic

from mailsink.settings import Settings, SettingsError
from mailsink.web import create_app

log = logging.getLogger("mailsink")


def main() -> int:
    _configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"mailsink: invalid configuration: {error}", file=sys.stderr)
        return 2
    app = create_app(settings)
    app.after_server_start(_announce)
    try:
        app.run(
            host=settings.host,
            port=settings.web_port,
            single_process=True,
            access_log=False,
            motd=False,
        )
    except OSError as error:  # typically a port already in use
        print(f"mailsink: cannot start: {error}", file=sys.stderr)
        return 1
    return 0


def _configure_logging() -> None:
    # Sanic sets up its own loggers; a root handler would print its lines twice,
    # so only the sink's own logger gets a handler. aiosmtpd ("mail.log") logs
    # every SMTP command at INFO, so it only reports warnings.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    for name, level in (("mailsink", logging.INFO), ("mail.log", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False
    # aiosmtpd 1.4 warns about its own deprecated attribute on every successful AUTH.
    logging.getLogger("mail.log").addFilter(
        lambda record: "login_data is deprecated" not in record.getMessage()
    )


async def _announce(app: Sanic) -> None:
    settings: Settings = app.ctx.settings
    log.info(
        "mail sink: SMTP on %s:%s, web on http://%s:%s",
        settings.host, settings.smtp_port, settings.host, settings.web_port,
    )


if __name__ == "__main__":
    sys.exit(main())
