"""A lean hand-written Autotrader loader: the yardstick `sync_vs_lean.py` measures the pipeline against.

    python bench/lean_loader.py --base-url URL --key K --secret S --pg-url URL [--threads 8]

What a competent engineer writes in an afternoon, and nothing more: one token, every advertiser
page, each advertiser's stock pages of 200, one features call per live vehicle (8 threads, a
`requests.Session` per thread, keep-alive), and one row per vehicle `COPY`d into PostgreSQL in one
transaction per advertiser. No call log, no shared pauses or blocks, no retries, no data quality:
it shows what the vendor work alone costs on this machine. Prints one JSON line (vehicles, calls).
"""

from __future__ import annotations

import argparse
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg2
import requests
import sqlalchemy as sa

SECTIONS = {name: "true" for name in ("vehicle", "advertiser", "adverts", "metadata", "features", "media",
                                      "highlights")}
SECTIONS.update({name: "false" for name in ("history", "check", "valuations", "responseMetrics", "finance",
                                            "motTests", "competitors")})
LIVE = {"DUE_IN", "FORECOURT", "SALE_IN_PROGRESS"}
_local = threading.local()


def session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def get(base: str, token: str, path: str, params: dict[str, Any]) -> Any:
    response = session().get(base + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def pages(base: str, token: str, path: str, params: dict[str, Any], size: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        body = get(base, token, path, {**params, "page": page, "pageSize": size})
        records.extend(body["results"])
        if not body["results"] or len(records) >= body["totalResults"]:
            return records
        page += 1


def copy_rows(conn: Any, rows: list[tuple[str, str, Any, Any]]) -> None:
    buffer = io.StringIO()
    for stock_id, advertiser_id, raw, features in rows:
        line = "\t".join((stock_id, advertiser_id, json.dumps(raw), json.dumps(features)))
        buffer.write(line.replace("\\", "\\\\") + "\n")
    buffer.seek(0)
    with conn.cursor() as cursor:
        cursor.copy_expert("COPY lean_vehicles (stock_id, advertiser_id, raw, features) FROM STDIN", buffer)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--pg-url", required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    base = args.base_url.rstrip("/")
    url = sa.make_url(args.pg_url)
    conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                            dbname=url.database)
    with conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS lean_vehicles (stock_id text PRIMARY KEY, advertiser_id text,"
                       " raw jsonb, features jsonb)")
    token = session().post(base + "/authenticate", data={"key": args.key, "secret": args.secret},
                           timeout=30).json()["access_token"]
    calls = 1
    advertisers = pages(base, token, "/advertisers", {}, 100)
    calls += max(1, -(-len(advertisers) // 100))
    vehicles = 0
    with ThreadPoolExecutor(args.threads) as pool:
        for advertiser in advertisers:
            aid = str(advertiser["advertiserId"])
            stock = pages(base, token, "/stock", {"advertiserId": aid, **SECTIONS}, 200)
            calls += max(1, -(-len(stock) // 200))
            live = [r for r in stock if r["metadata"].get("lifecycleState") in LIVE]

            def features(record: dict[str, Any], aid: str = aid) -> Any:
                stock_id = record["metadata"]["stockId"]
                return get(base, token, f"/stock/{stock_id}/features", {"advertiserId": aid})["features"]

            fetched = dict(zip((r["metadata"]["stockId"] for r in live), pool.map(features, live)))
            calls += len(live)
            with conn:
                copy_rows(conn, [(r["metadata"]["stockId"], aid, r, fetched.get(r["metadata"]["stockId"]))
                                 for r in stock])
            vehicles += len(stock)
    conn.close()
    print(json.dumps({"vehicles": vehicles, "calls": calls}))


if __name__ == "__main__":
    main()
