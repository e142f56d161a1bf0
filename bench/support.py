"""What the benchmarks share: a fresh PostgreSQL database, a sandbox world without deliberate
problems, and the kind of an Autotrader call from its path."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa


def fresh_database(admin_url: str) -> str:
    """Create an empty database on the server of `admin_url`; its URL."""
    name = f"bench_{secrets.token_hex(4)}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def everyone_on_the_integration(sandbox: Any) -> int:
    """The world's deliberate 403 A/B and inactive advertisers are made ordinary: a clean run."""
    changed = 0
    for advertiser in sandbox.world(refresh=True)["autotrader"]:
        aid = advertiser["advertiser_id"]
        if not (advertiser["on_integration"] and advertiser["stock_sync"]):
            sandbox.control("POST", f"/autotrader/advertisers/{aid}/access", {"on_integration": True,
                                                                              "stock_sync": True})
            changed += 1
        if advertiser["status"] != "Active":
            sandbox.control("POST", f"/autotrader/advertisers/{aid}/change", {"status": "Active", "deliver": False})
            changed += 1
    return changed


def classify_call(path: str) -> str:
    """An Autotrader call's kind, as the minimum-calls tables count them."""
    if path == "/authenticate":
        return "token"
    if path == "/advertisers":
        return "advertisers pages"
    if path == "/stock":
        return "stock pages"
    if path.endswith("/features"):
        return "features"
    if path.endswith("/charge-times"):
        return "charge times"
    return "other"
