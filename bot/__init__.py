"""Pomocnik: the chat gateway, widget and terminal client."""
