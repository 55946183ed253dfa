"""Fetch the Rasa model from the model store, verified by its SHA-256 (Kubernetes: deploy/rasa.yaml).

    python scripts/fetch_model.py --out /models/pomocnik.tar.gz [--url URL] [--sha256 HEX] [--load]

URL and SHA-256 default to ``MODEL_URL`` and ``MODEL_SHA256``. The model store is any HTTP(S)
server holding the file ``var/models/pomocnik.tar.gz`` as built by ``make model`` (object storage,
an internal web server); ``MODEL_STORE_AUTHORIZATION``, when set, is sent as the Authorization
header (e.g. ``Bearer <token>``) and never printed. The file is downloaded next to ``--out`` and
renamed into place only when its SHA-256 matches, so Rasa never sees a partial or different
model; a file already at ``--out`` with the right digest is kept. Transient failures (connection,
5xx) are retried with backoff.

``--load`` (the Job deploy/jobs/model-check.yaml) then loads the model with Rasa and classifies
a few messages, failing unless every one gets an intent: the check before a rollout.

Standard library only, except for ``--load`` (Rasa's environment).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CHUNK = 1 << 20
ATTEMPTS = 5
TIMEOUT_SECONDS = 60
# Messages of the main journeys; --load fails unless each gets an intent.
SAMPLES = ("nie pamiętam hasła", "ile kosztuje pakiet srebrny", "jak sparować telefon")


class FetchError(Exception):
    """The model could not be fetched or is not the one named."""


class Truncated(OSError):
    """The connection ended before the length the store announced."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, target: Path, authorization: str | None) -> str:
    request = urllib.request.Request(url)
    if authorization:
        request.add_header("Authorization", authorization)
    digest, received = hashlib.sha256(), 0
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        announced = response.headers.get("Content-Length")
        with target.open("wb") as handle:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                digest.update(chunk)
                handle.write(chunk)
                received += len(chunk)
    if announced is not None and received != int(announced):
        raise Truncated(f"got {received} of {announced} bytes")
    return digest.hexdigest()


def fetch(
    url: str,
    sha256: str,
    out: Path,
    authorization: str | None = None,
    attempts: int = ATTEMPTS,
    backoff_seconds: float = 2.0,
) -> bool:
    """Puts the model at ``out``; True if downloaded, False if the right one was already there."""
    sha256 = sha256.strip().lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise FetchError("MODEL_SHA256 must be 64 hexadecimal digits")
    if not url.startswith(("https://", "http://")):
        raise FetchError("MODEL_URL must start with https:// or http://")
    if out.exists() and sha256_of(out) == sha256:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    for attempt in range(1, attempts + 1):
        try:
            got = _download(url, partial, authorization)
        except urllib.error.HTTPError as error:
            partial.unlink(missing_ok=True)
            if error.code < 500 or attempt == attempts:
                raise FetchError(f"model store answered HTTP {error.code}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            partial.unlink(missing_ok=True)
            if attempt == attempts:
                raise FetchError(f"download failed: {error}") from None
        else:
            if got != sha256:
                partial.unlink(missing_ok=True)
                raise FetchError(f"SHA-256 mismatch: expected {sha256}, got {got}")
            os.replace(partial, out)
            return True
        time.sleep(backoff_seconds * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def load_and_classify(model: Path) -> list[tuple[str, str, float]]:
    """Loads the model with Rasa and classifies SAMPLES: (text, intent, confidence) each."""
    import asyncio

    # The model names the project's own components (bot.rasa_ext.polish): the repository root
    # must be importable, as it is for `rasa run` started there (the image sets PYTHONPATH).
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    from rasa.core.agent import Agent

    async def run() -> list[tuple[str, str, float]]:
        agent = Agent.load(str(model))
        results = []
        for text in SAMPLES:
            parsed = await agent.parse_message(text)
            intent = parsed.get("intent") or {}
            results.append((text, intent.get("name") or "", float(intent.get("confidence") or 0)))
        return results

    return asyncio.run(run())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch_model.py", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("MODEL_URL", ""))
    parser.add_argument("--sha256", default=os.environ.get("MODEL_SHA256", ""))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--load", action="store_true", help="also load it with Rasa and classify")
    args = parser.parse_args(argv)
    authorization = os.environ.get("MODEL_STORE_AUTHORIZATION") or None
    started = time.monotonic()
    try:
        downloaded = fetch(args.url, args.sha256, args.out, authorization)
    except FetchError as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return 1
    what = "downloaded" if downloaded else "already present"
    size = args.out.stat().st_size / 2**20
    print(f"fetch_model: {args.out} {what} ({size:.1f} MiB, sha256 {args.sha256.strip().lower()}, "
          f"{time.monotonic() - started:.1f} s)", flush=True)
    if args.load:
        results = load_and_classify(args.out)
        for text, intent, confidence in results:
            print(f"fetch_model: {text!r} -> {intent or 'NO INTENT'} ({confidence:.2f})")
        if not all(intent for _, intent, _ in results):
            print("fetch_model: the model left a message without an intent", file=sys.stderr)
            return 1
        print("fetch_model: the model loads and classifies", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
