"""Settings: validated once, with errors that name the variable."""

from __future__ import annotations

import pytest

from inngest_app.queries.credentials import lookup
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


def test_credential_bindings_and_query_caps_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INNGEST_DEV", "1")
    monkeypatch.setenv("QUERY_CREDENTIALS__ACME", "Bearer secret-token")
    monkeypatch.setenv("QUERY_CREDENTIAL_HOSTS__ACME", "api.acme.test, API.acme.example.")
    monkeypatch.setenv("QUERY_CREDENTIAL_USERS__ACME", "user-1,user-2")
    monkeypatch.setenv("QUERY_CREDENTIALS__GOOGLE", "AIza-key-123456")
    monkeypatch.setenv("QUERY_MAX_RUNNING_PER_USER", "2")
    settings = load_settings()
    assert settings.query_allow_private_networks is False  # refused by default, dev mode too
    acme = lookup(settings, "ACME")
    assert acme is not None and acme.secret == "Bearer secret-token"
    assert acme.hosts == {"api.acme.test", "api.acme.example"}
    assert acme.users == {"user-1", "user-2"}
    google = lookup(settings, "google")
    assert google is not None and google.hosts == {"www.googleapis.com"} and google.users is None
    assert settings.query_max_running_per_user == 2
    monkeypatch.setenv("QUERY_ALLOW_PRIVATE_NETWORKS", "1")
    assert load_settings().query_allow_private_networks is True
