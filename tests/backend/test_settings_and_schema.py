import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.db import Base, create_engine
from backend.security.hashing import SecretHasher
from backend.settings import DEV_SERVICE_TOKEN, Settings, SettingsError


def test_development_accepts_default_token():
    Settings().check()


@pytest.mark.parametrize("token", [DEV_SERVICE_TOKEN, "short-token"])
def test_production_refuses_default_or_short_token(token):
    with pytest.raises(SettingsError, match="BACKEND_SERVICE_TOKEN"):
        Settings(environment="production", service_token=token).check()


def test_production_accepts_a_real_token():
    Settings(environment="production", service_token="x" * 40, hmac_secret="h" * 40).check()


def test_bad_port_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BACKEND_PORT", "eighty")
    with pytest.raises(SettingsError, match="BACKEND_PORT must be an integer"):
        Settings.from_env()


def test_metrics_port_is_checked(monkeypatch):
    monkeypatch.delenv("BACKEND_METRICS_HOST", raising=False)
    monkeypatch.delenv("BACKEND_METRICS_PORT", raising=False)
    monkeypatch.setenv("BACKEND_PORT", "8100")
    assert (Settings.from_env().metrics_host, Settings.from_env().metrics_port) == (
        "127.0.0.1", 9401,
    )
    monkeypatch.setenv("BACKEND_METRICS_PORT", "8100")
    with pytest.raises(SettingsError, match="BACKEND_METRICS_PORT must differ from BACKEND_PORT"):
        Settings.from_env()
    monkeypatch.setenv("BACKEND_METRICS_PORT", "99999")
    with pytest.raises(SettingsError, match="BACKEND_METRICS_PORT must be between"):
        Settings.from_env()


async def test_default_hash_is_argon2id_with_owasp_minimum_cost():
    settings = Settings()
    hasher = SecretHasher(settings.argon2_memory_kib, settings.argon2_time_cost)
    hashed = await hasher.hash("Faktura#2026")
    assert hashed.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in hashed
    assert await hasher.verify(hashed, "Faktura#2026")
    assert not await hasher.verify(hashed, "faktura#2026")
    assert not await hasher.verify(None, "anything")


async def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []
