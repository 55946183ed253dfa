"""Run one backend outbox sender as a process of its own (a replica the tests can kill).

    python -m tests.support.outbox_sender <database-url> <smtp-port> <lease-seconds>
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from backend.db import create_engine, create_sessionmaker
from backend.mail.sender import OutboxSender
from backend.services.clock import system_clock


async def main(database_url: str, smtp_port: int, lease_seconds: float) -> None:
    engine = create_engine(database_url)
    sender = OutboxSender(
        create_sessionmaker(engine),
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        mail_from="iKsięgowość24 <no-reply@iksiegowosc24.pl>",
        poll_seconds=0.2,
        clock=system_clock,
        lease=timedelta(seconds=lease_seconds),
    )
    try:
        await sender.run_forever()
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
