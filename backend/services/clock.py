"""The one source of "now" for services, so tests can move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from backend.db import utcnow

Clock = Callable[[], datetime]
system_clock: Clock = utcnow
