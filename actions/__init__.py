"""Custom actions of the Pomocnik assistant (rasa-sdk 3.6), one module per conversation area.

    account.py         password reset form validation + backend call
    validators.py      shared slot validators, BaseFormValidator
    backend_client.py  the only HTTP client of the account backend
    config.py          settings from the environment

`rasa run actions` imports this package; the settings are checked here so a bad
configuration (e.g. the development token outside development) stops the action server
at start-up instead of failing on the first user.
"""

from actions.config import load_settings

load_settings()
