"""Custom actions of the Pomocnik assistant (rasa-sdk 3.6), one module per conversation area.

Areas (each: its forms' validators, the actions that call the backend, the status values the
rules in data/rules/<area>.yml branch on):

    account.py         password reset
    registration.py    registration with a Comarch licence, resending the activation link
    identity.py        verifying the chat user with an e-mailed code (the grant)
    packages.py        price-list answers, changing the package, the account's status
    devices.py         the paired mobile device: status and removal
    company.py         company users: roles, add, change role, remove, change a login e-mail
    support.py         handoff to a consultant, the Polish fallback

Shared:

    granted.py         GrantedOperation: every operation on the verified account
    forms.py           CancelForm: leaving a form the same way in every area; a value
                       given after its form starts that form again
    confirmation.py    a "tak" approves exactly the summary it answers
    validators.py      BaseFormValidator, the e-mail slot check
    people.py          whose address / which person a message names (company users)
    tracker.py         reading the tracker (latest intent and text, earlier slot values)
    idempotency.py     idempotency keys of confirmed operations
    backend_client.py  the only HTTP client of the account backend
    config.py          settings from the environment
    server.py          the entry point: rasa-sdk's app with metrics (python -m actions.server)
    metrics.py         Prometheus metrics of the actions run

The action server imports this package; the settings are checked here so a bad
configuration (e.g. the development token outside development) stops the action server
at start-up instead of failing on the first user.
"""

from actions.config import load_settings

load_settings()
