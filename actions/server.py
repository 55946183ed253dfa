"""Run the action server: rasa-sdk's own app, counted and timed, with Prometheus metrics.

    python -m actions.server --port 5055

Takes rasa-sdk's arguments (``--port``, ``--cors``, TLS, logging; ``--actions`` defaults to
this package) and builds rasa-sdk's app exactly as ``python -m rasa_sdk`` does, adding
``actions.metrics``: every custom action counted and timed, served on the metrics port
(``ACTIONS_METRICS_HOST``/``ACTIONS_METRICS_PORT``). It listens on ``SANIC_HOST``, loopback
unless set (rasa-sdk alone would take every interface).

One process only: the metrics of forked Sanic workers would be out of this process's reach,
so ``ACTION_SERVER_SANIC_WORKERS`` above 1 is refused; run more action servers instead.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional

from common import third_party_warnings

# Before rasa-sdk's app and sanic-cors are imported (common/third_party_warnings.py).
third_party_warnings.silence()

from rasa_sdk import utils  # noqa: E402
from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME  # noqa: E402
from rasa_sdk.endpoint import create_app, create_argument_parser, create_ssl_context  # noqa: E402
from rasa_sdk.executor import ActionExecutor  # noqa: E402
from rasa_sdk.plugin import plugin_manager  # noqa: E402

from actions import metrics  # noqa: E402
from actions.config import ConfigError, load_settings  # noqa: E402

ACTIONS_PACKAGE = "actions"
DEFAULT_HOST = "127.0.0.1"

logger = logging.getLogger(__name__)


def registered_action_names(package: str) -> List[str]:
    """The names rasa-sdk serves from ``package`` (its modules are already imported)."""
    executor_log = logging.getLogger("rasa_sdk.executor")
    level = executor_log.level
    executor_log.setLevel(logging.WARNING)  # rasa-sdk's own registration logged them already
    try:
        executor = ActionExecutor()
        executor.register_package(package)
    finally:
        executor_log.setLevel(level)
    return list(executor.actions)


def main(argv: Optional[List[str]] = None) -> int:
    args = create_argument_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"actions: configuration error: {exc}", file=sys.stderr)
        return 2
    if utils.number_of_sanic_workers() != 1:
        print(
            "actions: ACTION_SERVER_SANIC_WORKERS must be 1 (the metrics are per process); "
            "run more action servers instead",
            file=sys.stderr,
        )
        return 2
    _configure_logging(args)
    package = args.actions or ACTIONS_PACKAGE
    app = create_app(package, cors_origins=args.cors, auto_reload=args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    metrics.instrument(app, registered_action_names(package))
    if settings.metrics_port:
        metrics.serve(app, settings.metrics_host, settings.metrics_port)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("SANIC_HOST") or DEFAULT_HOST
    logger.info("action server on %s://%s:%s", "https" if ssl_context else "http", host, args.port)
    app.run(host, args.port, ssl=ssl_context, workers=1)
    return 0


def _configure_logging(args) -> None:
    """As ``python -m rasa_sdk`` does."""
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()


if __name__ == "__main__":
    sys.exit(main())
