"""HTTP gateway between the chat widget and the Rasa server.

The gateway is the only public entry point: it hands out signed conversation
ids, validates messages, relays them to Rasa's REST channel and normalises
the answers for the widget.
"""

from bot.gateway.app import create_app
from bot.gateway.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]
