"""Code the backend and the chat gateway share, below both.

Neither service's package: the two own separate databases and never import each other, so what
they must do the same way lives here - how a database is opened and migrated (``database``), how
metrics are served (``metrics_exposition``). Nothing in this package imports ``backend`` or
``bot``.

Two modules are standard library only and Python 3.10-compatible, so the custom actions
(``.venv/rasa``) import them too: ``polish`` (plural forms, money, dates) and ``contacts`` (the
support phone, addresses and hours); ``third_party_warnings`` silences the deprecation
warnings of Rasa's dependencies in the Rasa processes. See docs/architecture.md ("Shared code").
"""
