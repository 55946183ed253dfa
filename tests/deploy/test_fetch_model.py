"""scripts/fetch_model.py, the Rasa pods' init container (deploy/rasa.yaml), against a real
HTTP server: the model is put in place only whole and with the SHA-256 it was named by."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fetch_model.py"
MODEL = os.urandom(3 * 2**20 + 17)  # several read chunks, not a multiple of one
DIGEST = hashlib.sha256(MODEL).hexdigest()

spec = importlib.util.spec_from_file_location("fetch_model", SCRIPT)
fetch_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fetch_model)


class Store(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.failures: list[int] = []  # statuses to answer before serving the model
        self.truncate = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/models/pomocnik.tar.gz"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        store: Store = self.server
        store.requests.append(dict(self.headers))
        if store.failures:
            self.send_response(store.failures.pop(0))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path != "/models/pomocnik.tar.gz":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(MODEL)))
        self.end_headers()
        self.wfile.write(MODEL[: len(MODEL) // 2] if store.truncate else MODEL)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def store():
    server = Store()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_downloads_and_verifies(store, tmp_path):
    out = tmp_path / "models" / "pomocnik.tar.gz"
    assert fetch_model.fetch(store.url, DIGEST.upper(), out, authorization="Bearer s3cr3t")
    assert out.read_bytes() == MODEL
    assert store.requests[0]["Authorization"] == "Bearer s3cr3t"
    assert list(out.parent.iterdir()) == [out]
    # The right model already there: kept, nothing downloaded.
    assert not fetch_model.fetch(store.url, DIGEST, out)
    assert len(store.requests) == 1


def test_refuses_another_model_and_leaves_nothing(store, tmp_path):
    out = tmp_path / "pomocnik.tar.gz"
    with pytest.raises(fetch_model.FetchError, match="SHA-256 mismatch"):
        fetch_model.fetch(store.url, "ab" * 32, out)
    assert list(tmp_path.iterdir()) == []


def test_a_cut_download_is_retried_and_never_used(store, tmp_path):
    store.truncate = True
    out = tmp_path / "pomocnik.tar.gz"
    with pytest.raises(fetch_model.FetchError, match="download failed: got"):
        fetch_model.fetch(store.url, DIGEST, out, attempts=2, backoff_seconds=0.01)
    assert len(store.requests) == 2
    assert list(tmp_path.iterdir()) == []


def test_retries_server_errors_not_client_errors(store, tmp_path):
    store.failures = [503, 502]
    out = tmp_path / "pomocnik.tar.gz"
    assert fetch_model.fetch(store.url, DIGEST, out, backoff_seconds=0.01)
    assert len(store.requests) == 3 and out.read_bytes() == MODEL
    with pytest.raises(fetch_model.FetchError, match="HTTP 404"):
        fetch_model.fetch(store.url.replace("pomocnik", "other"), DIGEST, tmp_path / "x",
                          backoff_seconds=0.01)
    assert len(store.requests) == 4  # a 404 is not retried


@pytest.mark.parametrize("url, digest, message", [
    ("ftp://models/x", DIGEST, "MODEL_URL"),
    ("https://models/x", "1234", "MODEL_SHA256"),
    ("https://models/x", "", "MODEL_SHA256"),
])
def test_bad_configuration_is_a_clear_error(url, digest, message, tmp_path):
    with pytest.raises(fetch_model.FetchError, match=message):
        fetch_model.fetch(url, digest, tmp_path / "m")


def init_container() -> dict:
    documents = yaml.safe_load_all((ROOT / "deploy" / "rasa.yaml").read_text())
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["initContainers"]
    return container


def test_the_init_containers_command_fetches_the_model(store, tmp_path):
    """The manifest's command, run as the container runs it (variables from the environment,
    the emptyDir replaced by a temporary directory), never prints the store's credential."""
    command = init_container()["command"]
    assert command[:2] == ["python", "scripts/fetch_model.py"]
    out = command.index("--out") + 1
    target = tmp_path / Path(command[out]).name
    argv = [sys.executable, *command[1:out], str(target), *command[out + 1:]]
    env = {**os.environ, "MODEL_URL": store.url, "MODEL_SHA256": DIGEST,
           "MODEL_STORE_AUTHORIZATION": "Bearer do-not-print-me"}
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == MODEL
    assert "do-not-print-me" not in done.stdout + done.stderr
    env["MODEL_SHA256"] = "cd" * 32
    target.unlink()
    refused = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "SHA-256 mismatch" in refused.stderr
    assert not target.exists()
