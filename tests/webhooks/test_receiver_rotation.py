"""Our own rotation of the webhook secrets: the previous one is accepted beside the current one."""

from __future__ import annotations

import uuid

import requests
import sqlalchemy as sa

from dealer_pipeline.webhooks.runner import start_receiver
from tests.webhooks.fixtures import SECRETS_ENV, ac_headers, at_headers, compact, stock_update

PREVIOUS = {"AUTOTRADER_WEBHOOK_SECRET_PREVIOUS": "at-previous-secret-0001",
            "AUTOCOSMOS_WEBHOOK_SECRET_PREVIOUS": "ac-previous-secret-0001",
            "WEBMOTORS_LEADS_TOKEN_PREVIOUS": "wm-previous-token-0001"}


def test_current_and_previous_secrets_are_accepted_and_no_other(module_store_url: str,
                                                                 module_engine: sa.Engine) -> None:
    env = {"DEALER_PIPELINE_DATABASE_URL": module_store_url, **SECRETS_ENV, **PREVIOUS}
    with start_receiver(env=env) as receiver:
        statuses = {}
        for label, secret in (("current", None), ("previous", "at-previous-secret-0001"), ("other", "not-ours")):
            body = compact(stock_update())
            headers = at_headers(body) if secret is None else at_headers(body, secret=secret)
            statuses[("autotrader", label)] = requests.put(receiver.url("autotrader"), data=body, headers=headers,
                                                           timeout=10).status_code
        for label, secret in (("current", None), ("previous", "ac-previous-secret-0001"), ("other", "not-ours")):
            hook = str(uuid.uuid4())
            headers = ac_headers(hook) if secret is None else ac_headers(hook, secret=secret)
            statuses[("autocosmos", label)] = requests.post(receiver.url("autocosmos"), data=b"{}", headers=headers,
                                                            timeout=10).status_code
        for label, token in (("current", SECRETS_ENV["WEBMOTORS_LEADS_TOKEN"]),
                             ("previous", "wm-previous-token-0001"), ("other", "not-ours")):
            notice = {"IdLead": str(uuid.uuid4().int)[:9]}
            statuses[("webmotors", label)] = requests.post(receiver.url("webmotors") + f"?token={token}",
                                                           json=notice, timeout=10).status_code
    assert statuses == {(source, label): 200 if label != "other" else 403
                        for source in ("autotrader", "autocosmos", "webmotors")
                        for label in ("current", "previous", "other")}
