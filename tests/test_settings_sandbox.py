"""No sandbox credential outside the sandbox: defaults only while a vendor's URLs are loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dealer_pipeline.settings import SettingsError, load_settings

#: Per vendor: its URL variables (with a production value) and every credential it needs.
VENDORS = {
    "autotrader": ({"AUTOTRADER_BASE_URL": "https://api.autotrader.co.uk"},
                   ("AUTOTRADER_KEY", "AUTOTRADER_SECRET", "AUTOTRADER_WEBHOOK_SECRET")),
    "webmotors": ({"WEBMOTORS_BASE_URL": "https://api.webmotors.com.br"},
                  ("WEBMOTORS_CLIENT_ID", "WEBMOTORS_CLIENT_SECRET", "WEBMOTORS_LEADS_TOKEN")),
    "autocosmos": ({"AUTOCOSMOS_BASE_URL": "https://api.autocosmos.com.ar"},
                   ("AUTOCOSMOS_APP_KEY", "AUTOCOSMOS_APP_SECRET", "AUTOCOSMOS_WEBHOOK_SECRET")),
    "autochat": ({"AUTOCHAT_TOKEN_URL": "https://auth.autochat.com.ar/oauth/token"},
                 ("AUTOCHAT_CLIENT_ID", "AUTOCHAT_CLIENT_SECRET")),
}


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_remote_vendor_without_its_credentials_is_refused_naming_each(vendor: str) -> None:
    urls, credentials = VENDORS[vendor]
    with pytest.raises(SettingsError) as caught:
        load_settings(urls)
    message = str(caught.value)
    for name in credentials:
        assert f"{name} must be set" in message
    others = {n for v, (_, names) in VENDORS.items() if v != vendor for n in names}
    assert not any(name in message for name in others)  # the other vendors still use the sandbox
    # Set one short of all: exactly the missing one is named.
    given = {**urls, **{name: f"real-{name.lower()}-value" for name in credentials[:-1]}}
    with pytest.raises(SettingsError, match=f"^{credentials[-1]} must be set"):
        load_settings(given)
    settings = load_settings({**given, credentials[-1]: "real-last-value"})
    assert settings.autotrader_base_url.startswith("https://") or vendor != "autotrader"


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_remote_vendor_must_be_https_and_cannot_use_the_sandbox_values(vendor: str) -> None:
    urls, credentials = VENDORS[vendor]
    plain = {name: url.replace("https://", "http://") for name, url in urls.items()}
    sandbox_values = {name: value for name, value in _sandbox_defaults().items() if name in credentials}
    with pytest.raises(SettingsError) as caught:
        load_settings({**plain, **sandbox_values})
    message = str(caught.value)
    for name in plain:
        assert f"{name} must be https outside the local sandbox" in message
    for name in credentials:
        assert f"{name} is the sandbox's public value" in message
    for value in sandbox_values.values():
        if "SECRET" in value or "TOKEN" in value:
            assert value not in message


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:9000", "127.0.0.2", "[::1]:8080"])
def test_loopback_urls_keep_the_sandbox_defaults_and_plain_http(host: str) -> None:
    settings = load_settings({"AUTOTRADER_BASE_URL": f"http://{host}/autotrader",
                              "AUTOCHAT_TOKEN_URL": f"http://{host}/autochat/oauth/token"})
    assert settings.autotrader_webhook_secret.reveal() == "sandbox-at-webhook-secret"
    assert settings.autochat_client_secret.reveal() == "sandbox-ach-secret"


def test_start_up_stops_naming_every_missing_variable(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRADER_", "WEBMOTORS_", "AUTOCOSMOS_"))}
    env.update(DAGSTER_HOME=str(tmp_path), AUTOTRADER_BASE_URL="https://api.autotrader.co.uk",
               AUTOCOSMOS_BASE_URL="https://api.autocosmos.com.ar", AUTOCOSMOS_APP_KEY="real-key",
               AUTOCOSMOS_APP_SECRET="real-app-secret-value")
    command = str(Path(sys.executable).with_name("dealer-pipeline"))
    done = subprocess.run([command, "webhooks", "serve", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    for name in ("AUTOTRADER_KEY", "AUTOTRADER_SECRET", "AUTOTRADER_WEBHOOK_SECRET", "AUTOCOSMOS_WEBHOOK_SECRET"):
        assert f"{name} must be set" in done.stderr
    assert "real-app-secret-value" not in done.stderr + done.stdout


def test_a_previous_webhook_secret_may_stand_beside_the_current_one() -> None:
    settings = load_settings({"AUTOTRADER_WEBHOOK_SECRET_PREVIOUS": "old-at", "WEBMOTORS_LEADS_TOKEN_PREVIOUS": "old-wm",
                              "AUTOCOSMOS_WEBHOOK_SECRET_PREVIOUS": "old-ac"})
    assert settings.autotrader_webhook_secret_previous.reveal() == "old-at"
    assert "old-at" not in repr(settings)
    with pytest.raises(SettingsError, match="AUTOCOSMOS_WEBHOOK_SECRET_PREVIOUS is set but empty"):
        load_settings({"AUTOCOSMOS_WEBHOOK_SECRET_PREVIOUS": " "})


def _sandbox_defaults() -> dict[str, str]:
    from dealer_pipeline.settings import Settings

    return {f.alias: f.default for f in Settings.model_fields.values() if isinstance(f.default, str)}


def test_a_receiver_listening_beyond_loopback_refuses_the_sandbox_webhook_secrets(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRADER_", "WEBMOTORS_", "AUTOCOSMOS_"))}
    env.update(DAGSTER_HOME=str(tmp_path), AUTOCOSMOS_WEBHOOK_SECRET="real-ac-webhook-secret")
    command = str(Path(sys.executable).with_name("dealer-pipeline"))
    done = subprocess.run([command, "webhooks", "serve", "--host", "0.0.0.0", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "AUTOTRADER_WEBHOOK_SECRET, WEBMOTORS_LEADS_TOKEN still hold the sandbox's public values" in done.stderr
    assert "real-ac-webhook-secret" not in done.stderr + done.stdout
