"""What the tests and the scripts (benchmarks, screenshots) both use to run the services: the
whole stack as real processes (``stack``), a real HTTP server standing in for an outside service
(``http_stub``) and Rasa's REST channel and tracker API in that form (``rasa_stub``).

Development tooling, never imported by a service. ``scripts/`` import it instead of ``tests/``.
"""
