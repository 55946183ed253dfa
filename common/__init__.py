"""Code the backend and the chat gateway share (both run in ``.venv/app``, Python 3.11).

Neither service's package: the two own separate databases and never import each other, so what
they must do the same way (how a database is opened and migrated) lives here, below both. Nothing
in this package imports ``backend`` or ``bot``. See docs/architecture.md ("Shared code").
"""
