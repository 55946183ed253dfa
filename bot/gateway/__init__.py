"""The chat gateway between visitors (widget, Rasa socket.io widgets, REST clients) and Rasa.

The gateway is the only public entry point: it hands out signed conversation
ids, speaks Rasa's socket.io channel protocol and a JSON API, keeps each
conversation's transcript in its database, enforces message limits, relays
messages to Rasa's REST channel and fans new messages out to every connected tab.
"""

from bot.gateway.app import create_app
from bot.gateway.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]
