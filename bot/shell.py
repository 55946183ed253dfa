"""Terminal chat with Pomocnik through the gateway API (``make shell``).

    python -m bot.shell [--url http://127.0.0.1:8000]

Buttons are printed as a numbered list; typing a number sends that button's
payload. ``/quit`` or end of input (Ctrl+D) ends the session.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from typing import Any, TextIO

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
# Longer than the gateway's own wait for Rasa, so the gateway reports timeouts itself.
REQUEST_TIMEOUT_SECONDS = 30.0
QUIT_COMMAND = "/quit"

GREETING = {
    "text": "Dzień dobry! Jestem Pomocnik, asystent iKsięgowość24. W czym mogę pomóc?",
    "buttons": [
        {"title": "Nie pamiętam hasła", "payload": "Nie pamiętam hasła"},
        {"title": "Jak się zalogować?", "payload": "Jak się zalogować?"},
    ],
}
INTRO = (
    "Pomocnik – asystent iKsięgowość24 (terminal).\n"
    "Wpisz wiadomość i naciśnij Enter. Numer przycisku wysyła jego odpowiedź. "
    f"Aby zakończyć, wpisz {QUIT_COMMAND}."
)
GATEWAY_DOWN = (
    "Nie mogę połączyć się z Pomocnikiem pod adresem {url}. "
    "Sprawdź, czy bramka czatu jest uruchomiona (np. `make run` w drugim terminalu), "
    "i spróbuj ponownie."
)
CONNECTION_LOST = "Utracono połączenie z bramką czatu. Spróbuj ponownie za chwilę."
UNEXPECTED_ANSWER = "Bramka czatu zwróciła nieoczekiwaną odpowiedź. Spróbuj ponownie."
GOODBYE = "Do zobaczenia!"
PROMPT = "Ty: "


class GatewayUnreachable(Exception):
    """The gateway did not answer at all."""


class GatewayError(Exception):
    """The gateway answered with an error; ``message`` is Polish and user-facing."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GatewayApi:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def start_conversation(self) -> str:
        return self._post("/api/v1/conversations", None)["conversation_id"]

    def send(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return self._post(path, {"text": text}).get("messages", [])

    def _post(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise GatewayUnreachable(str(exc)) from exc
        try:
            data = response.json()
        except ValueError:
            raise GatewayError("unexpected_answer", UNEXPECTED_ANSWER) from None
        if not isinstance(data, dict):
            raise GatewayError("unexpected_answer", UNEXPECTED_ANSWER)
        if not response.is_success:
            error = data.get("error") if isinstance(data.get("error"), dict) else {}
            raise GatewayError(error.get("code", ""), error.get("message", UNEXPECTED_ANSWER))
        return data


class ShellChat:
    def __init__(
        self,
        api: GatewayApi,
        url: str,
        read_line: Callable[[str], str] = input,
        out: TextIO = sys.stdout,
    ) -> None:
        self._api = api
        self._url = url
        self._read_line = read_line
        self._out = out
        self._conversation_id: str | None = None
        self._buttons: list[dict[str, str]] = []

    def run(self) -> int:
        self._say(INTRO)
        try:
            self._conversation_id = self._api.start_conversation()
        except GatewayUnreachable:
            self._say(GATEWAY_DOWN.format(url=self._url))
            return 1
        except GatewayError as exc:
            self._say(exc.message)
            return 1
        self._show_replies([GREETING])
        self._loop()
        self._say(GOODBYE)
        return 0

    def _loop(self) -> None:
        while True:
            try:
                line = self._read_line(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                self._say("")
                return
            if line == QUIT_COMMAND:
                return
            if line:
                self._exchange(self._resolve_button(line))

    def _resolve_button(self, line: str) -> str:
        """A number picks one of the last buttons: send its payload instead of the digits."""
        if line.isdigit() and 1 <= int(line) <= len(self._buttons):
            button = self._buttons[int(line) - 1]
            self._say(f"  → {button['title']}")
            return button["payload"]
        return line

    def _exchange(self, text: str) -> None:
        try:
            replies = self._send(text)
        except GatewayUnreachable:
            self._say(CONNECTION_LOST)
            return
        except GatewayError as exc:
            self._say(exc.message)
            return
        self._show_replies(replies)

    def _send(self, text: str) -> list[dict[str, Any]]:
        try:
            return self._api.send(self._conversation_id, text)
        except GatewayError as exc:
            # A stale id (e.g. the gateway secret changed): start over once.
            if exc.code != "conversation_not_found":
                raise
            self._conversation_id = self._api.start_conversation()
            return self._api.send(self._conversation_id, text)

    def _show_replies(self, replies: list[dict[str, Any]]) -> None:
        self._buttons = []
        for reply in replies:
            self._show_text(reply.get("text") or "")
            if reply.get("image"):
                self._say(f"  (obraz: {reply['image']})")
            self._buttons.extend(reply.get("buttons") or [])
        for number, button in enumerate(self._buttons, start=1):
            self._say(f"  [{number}] {button['title']}")

    def _show_text(self, text: str) -> None:
        if text:
            self._say("Pomocnik: " + text.replace("\n", "\n          "))

    def _say(self, text: str) -> None:
        print(text, file=self._out, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.shell", description="Terminal chat with Pomocnik through the gateway."
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"gateway address (default {DEFAULT_URL})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = args.url.rstrip("/")
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_SECONDS, trust_env=False) as http:
        return ShellChat(GatewayApi(http), url).run()


if __name__ == "__main__":
    sys.exit(main())
