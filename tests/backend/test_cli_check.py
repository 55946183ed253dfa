"""`python -m backend.cli check`: what the Kubernetes init container waits on (deploy/)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(command: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BACKEND_DATABASE_URL": database_url, "POMOCNIK_ENV": "development"}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_fails_until_migrated_and_creates_nothing(tmp_path):
    database = tmp_path / "backend.db"
    url = f"sqlite+aiosqlite:///{database}"

    missing = cli("check", url)
    assert missing.returncode == 1, missing.stderr
    assert "schema is empty" in missing.stdout
    assert not database.exists()

    assert cli("migrate", url).returncode == 0
    current = cli("check", url)
    assert current.returncode == 0, current.stdout + current.stderr
    assert "schema is current" in current.stdout


async def test_check_reads_the_schema_of_the_shared_database(database_url):
    # The fixture's database (SQLite, or PostgreSQL with TEST_DATABASE_URL) is migrated.
    result = cli("check", database_url)
    assert result.returncode == 0, result.stdout + result.stderr
