"""Pomocnik extensions loaded by Rasa (custom NLU components, tracker store)."""
