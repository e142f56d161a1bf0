"""Settings: every variable validated, with errors that name it; secrets never print."""

from __future__ import annotations

import logging

import pytest

from dealer_pipeline.settings import VARIABLES, Secret, SettingsError, load_settings


def test_defaults_point_at_the_sandbox_and_a_local_sqlite() -> None:
    settings = load_settings({})
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(".sqlite")
    assert settings.autotrader_base_url.endswith("/autotrader")
    assert settings.autochat_token_url.endswith("/autochat/oauth/token")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AUTOTRADER_BASE_URL", "api.autotrader.co.uk", "AUTOTRADER_BASE_URL must be an absolute http"),
        ("WEBMOTORS_BASE_URL", "ftp://x", "WEBMOTORS_BASE_URL must be an absolute http"),
        ("DEALER_PIPELINE_DATABASE_URL", "not a url", "DEALER_PIPELINE_DATABASE_URL is not a SQLAlchemy URL"),
        ("DEALER_PIPELINE_DATABASE_URL", "mysql://u@h/db", "DEALER_PIPELINE_DATABASE_URL must be a sqlite or"),
        ("AUTOTRADER_SECRET", "   ", "AUTOTRADER_SECRET is set but empty"),
        ("DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS", "-3", "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS must be greater"),
        ("DEALER_PIPELINE_WEBHOOK_MAX_BYTES", "1MB", "DEALER_PIPELINE_WEBHOOK_MAX_BYTES must be a whole number"),
        ("AUTOTRADER_CHARGE_TIMES_ENABLED", "maybe", "AUTOTRADER_CHARGE_TIMES_ENABLED must be true or false"),
    ],
)
def test_malformed_variable_is_named(name: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        load_settings({name: value})


def test_bare_postgresql_url_gets_the_installed_driver() -> None:
    settings = load_settings({"DEALER_PIPELINE_DATABASE_URL": "postgresql://u:p@db:5432/store"})
    assert settings.database_url == "postgresql+psycopg2://u:p@db:5432/store"


def test_every_variable_is_documented_in_the_readme() -> None:
    from dealer_pipeline.paths import project_root

    readme = (project_root() / "README.md").read_text()
    undocumented = [var.name for var in VARIABLES if var.name not in readme]
    assert not undocumented


def test_secrets_never_print(caplog: pytest.LogCaptureFixture) -> None:
    value = "s3cr3t-value-that-must-not-leak"
    settings = load_settings({"AUTOTRADER_SECRET": value, "AUTOCOSMOS_APP_SECRET": value})
    assert settings.autotrader_secret.reveal() == value
    assert value not in repr(settings) and value not in str(settings)
    assert value not in f"{settings.autotrader_secret}" and value not in repr(settings.autotrader_secret)
    logging.getLogger("test").warning("settings: %s / %r", settings, settings.autocosmos_app_secret)
    assert value not in caplog.text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(settings.autotrader_secret)
    try:
        raise RuntimeError(f"failed with {settings.autotrader_secret!r}")
    except RuntimeError as exc:
        assert value not in str(exc)


def test_the_database_password_never_prints() -> None:
    settings = load_settings({"DEALER_PIPELINE_DATABASE_URL": "postgresql://pipeline:db-pa55word@db:5432/store"})
    assert "db-pa55word" in settings.database_url  # the engine needs it
    assert "db-pa55word" not in repr(settings) and "db-pa55word" not in str(settings)


def test_secret_equality_without_exposure() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_a_settings_error_carries_no_validation_trace() -> None:
    """pydantic's own error quotes every input; ours names the variable and is not chained to it."""
    with pytest.raises(SettingsError) as caught:
        load_settings({"AUTOTRADER_SECRET": " ", "DEALER_PIPELINE_FRESHNESS_HOURS": "soon"})
    assert caught.value.__context__ is None and caught.value.__cause__ is None
    assert "AUTOTRADER_SECRET is set but empty" in str(caught.value)
    assert "DEALER_PIPELINE_FRESHNESS_HOURS must be a number, got 'soon'" in str(caught.value)
