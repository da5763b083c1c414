"""Settings: validated once, with errors that name the variable."""

from __future__ import annotations

import pytest

from inngest_app.settings import SettingsError, load_settings


def test_cloud_mode_names_missing_keys() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "INNGEST_SIGNING_KEY" in message and "INNGEST_EVENT_KEY" in message
    assert "Traceback" not in message


def test_malformed_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    monkeypatch.setenv("DB_POOL_MAX", "lots")
    with pytest.raises(SettingsError, match="DB_POOL_MAX"):
        load_settings()


def test_dev_mode_defaults_point_at_the_dev_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    settings = load_settings()
    assert settings.api_base_url == "http://localhost:8288"
    assert settings.event_api_base_url == "http://localhost:8288"
    assert settings.database_url is None  # embedded Postgres


def test_cloud_mode_uses_sdk_defaults_and_reads_nested_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INNGEST_SIGNING_KEY", "signkey-prod-abcdef0123")
    monkeypatch.setenv("INNGEST_EVENT_KEY", "event-key-123456")
    monkeypatch.setenv("QUERY_CREDENTIALS__ACME", "Bearer secret-token")
    settings = load_settings()
    assert settings.api_base_url is None and settings.event_api_base_url is None
    assert settings.query_credentials["acme"].get_secret_value() == "Bearer secret-token"
    assert "Bearer secret-token" in settings.secret_values()
    assert "secret-token" not in repr(settings)


def test_supabase_needs_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    monkeypatch.setenv("SUPABASE_URL", "https://x.supabase.co")
    with pytest.raises(SettingsError, match="SUPABASE_SERVICE_ROLE_KEY"):
        load_settings()
