"""Signature verification against the contracts' worked vectors and its edge rules."""

from __future__ import annotations

from dealer_pipeline.webhooks import signatures

AT_VECTOR_SECRET = "example-notification-secret-DO-NOT-USE"
AT_VECTOR_BODY = (
    b'{"id":"8a46978d8b8505e8018b91d9483a332a","time":"2026-01-01T00:00:00.000Z","type":"STOCK_UPDATE",'
    b'"data":{"metadata":{"stockId":"8a46978d8b8505e8018b91d9483a332a","versionNumber":18,'
    b'"lifecycleState":"SALE_IN_PROGRESS"}}}'
)
AT_VECTOR_V1 = "431f656d21a89092b1bfdff0c94b85ecce0529e39038705f442a4f94966de721"


def test_at_notif_1_worked_vectors_of_the_contract() -> None:
    assert signatures.autotrader_signature(AT_VECTOR_SECRET, 1623882082, b'{"id": "123"}') == (
        "7a1d3245a867692e70da76589e7ae27d3b2610e80dc66dd518760e02be0b4138"
    )
    assert len(AT_VECTOR_BODY) == 219
    header = f"t=1767225600,v1={AT_VECTOR_V1}"
    assert signatures.verify_autotrader(header, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600) is None
    # The same v1 with t+1 must fail: the timestamp is signed.
    assert signatures.verify_autotrader(f"t=1767225601,v1={AT_VECTOR_V1}", AT_VECTOR_BODY, AT_VECTOR_SECRET,
                                        now=1767225601) == "no v1 signature matches the body"


def test_at_notif_2_tolerance_both_ways_and_header_forms() -> None:
    header = f"t=1767225600,v1={AT_VECTOR_V1}"
    verify = signatures.verify_autotrader
    assert verify(header, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600 + 300) is None
    assert "old" in verify(header, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600 + 301)
    assert verify(header, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600 - 300) is None
    assert "future" in verify(header, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600 - 301)
    # Rotation: any of several v1 values may match; spaces and upper-case hex are tolerated.
    rotated = f"t=1767225600, v1={'0' * 64}, v1={AT_VECTOR_V1.upper()}"
    assert verify(rotated, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600) is None
    assert verify(None, AT_VECTOR_BODY, AT_VECTOR_SECRET, now=0) == "missing Autotrader-Signature header"
    assert "no single numeric t" in verify(f"t=1,t=2,v1={AT_VECTOR_V1}", AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1)
    assert "no single numeric t" in verify(f"t=abc,v1={AT_VECTOR_V1}", AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1)
    assert "no v1" in verify("t=1767225600,v0=abc", AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600)
    assert verify(header, AT_VECTOR_BODY, "another-secret", now=1767225600) == "no v1 signature matches the body"
    assert verify("t=1767225600,v1=ümlaut", AT_VECTOR_BODY, AT_VECTOR_SECRET, now=1767225600) is not None


def test_ac_hook_1_worked_vector_of_the_contract() -> None:
    secret, hook, ts, topic = ("example-webhook-secret-0123456789", "3f2a9c1e-5b7d-4e21-9a0f-6c8d2b4e1a70",
                               "1767225600", "invitacionagencia_aceptada")
    expected = "bw2CXwclSHCbQLtZkNC/0R7f43uI+cINh1PH4Ug/21w="
    assert signatures.autocosmos_signature(secret, hook, ts, topic) == expected
    assert signatures.verify_autocosmos(hook, ts, topic, expected, secret, now=1767225600) is None
    assert "old" in signatures.verify_autocosmos(hook, ts, topic, expected, secret, now=1767225901)
    assert "future" in signatures.verify_autocosmos(hook, ts, topic, expected, secret, now=1767225299)
    assert signatures.verify_autocosmos(hook, ts, "otro_topico", expected, secret, now=1767225600) is not None
    assert signatures.verify_autocosmos(None, ts, topic, expected, secret, now=1767225600) is not None


def test_wm_lead_1_token_rules_of_the_contract() -> None:
    secret = "wm-cb-5f2d9a7c1e3b4d6f"
    assert signatures.verify_token("wm-cb-5f2d9a7c1e3b4d6f", secret) is None
    assert signatures.verify_token("wm-cb-000", secret) == "token query parameter does not match"
    assert signatures.verify_token(None, secret) == "missing token query parameter"
