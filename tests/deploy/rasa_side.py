"""What the Rasa-environment containers of deploy/ really do, read from Rasa's and rasa-sdk's code.

Run by tests/deploy/test_manifests.py with Rasa's interpreter (.venv/rasa): reads a JSON object
on stdin ({"rasa": {"argv", "env", "endpoints"}, "actions": {"argv", "env"}}) and prints a JSON
object: the port and interface each process listens on (parsed by the programs' own argument
parsers), the routes of their apps, the action server's metrics settings, whether the tracker
store accepts the key outside development, and the endpoints file as Rasa reads it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def actions_side(spec: dict) -> dict:
    from rasa_sdk.endpoint import create_app, create_argument_parser

    from actions.config import load_settings
    from actions.server import DEFAULT_HOST

    argv = spec["argv"]
    assert argv[:3] == ["python", "-m", "actions.server"], argv
    args = create_argument_parser().parse_args(argv[3:])
    settings = load_settings(spec["env"])  # raises on an unusable or unsafe environment
    app = create_app("actions")
    return {
        "port": args.port,
        "host": spec["env"].get("SANIC_HOST") or DEFAULT_HOST,
        "routes": sorted({"/" + route.path.lstrip("/") for route in app.router.routes}),
        "metrics_host": settings.metrics_host,
        "metrics_port": settings.metrics_port,
        "environment": settings.environment,
    }


def rasa_side(spec: dict) -> dict:
    from rasa.__main__ import create_argument_parser
    import rasa.server
    from rasa.core.utils import AvailableEndpoints

    from bot.rasa_ext.tracker_store import load_cipher

    argv = spec["argv"]
    # "python -m bot.rasa_cli run …" is "rasa run …" with the deprecation noise silenced
    assert argv[:3] == ["python", "-m", "bot.rasa_cli"], argv
    args = create_argument_parser().parse_args(argv[3:])
    load_cipher(spec["env"])  # raises outside development without a usable key
    app = rasa.server.create_app(auth_token=args.auth_token)  # what --enable-api serves
    # Rasa substitutes ${VAR} in the endpoints file from the process environment.
    os.environ.update(spec["env"])
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(spec["endpoints"])
    endpoints = AvailableEndpoints.read_endpoints(handle.name)
    os.unlink(handle.name)
    # What `rasa run` does with the container's TF_*_PARALLELISM_THREADS at start.
    import tensorflow as tf
    from rasa.utils.tensorflow.environment import setup_tf_environment

    setup_tf_environment()
    threads = {
        "intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    return {
        "command": args.func.__module__ + "." + args.func.__name__,
        "port": args.port,
        "host": args.interface,
        "enable_api": bool(args.enable_api),
        "auth_token": args.auth_token,
        "model": args.model,
        "endpoints_file": args.endpoints,
        "routes": sorted({"/" + route.path.lstrip("/") for route in app.router.routes}),
        "action_url": endpoints.action.url,
        "nlg": endpoints.nlg.type if endpoints.nlg else None,
        "tracker_store": endpoints.tracker_store.type,
        "tracker_store_dialect": endpoints.tracker_store.kwargs.get("dialect"),
        "lock_store": endpoints.lock_store.type,
        "lock_store_url": endpoints.lock_store.url,
        "lock_store_port": str(endpoints.lock_store.kwargs.get("port")),
        "lock_store_password": endpoints.lock_store.kwargs.get("password"),
        "tf_threads": threads,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    result = {"actions": actions_side(spec["actions"]), "rasa": rasa_side(spec["rasa"])}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
