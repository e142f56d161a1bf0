"""A separate process calling the scripted vendor through the layer (multi-process tests).

    python -m tests.http.worker URL DB_URL PATH START_EPOCH SECONDS MIN_CALLS

Waits for START_EPOCH (so the workers start together when the machine is not loaded),
then calls GET PATH for SECONDS and at least MIN_CALLS times, then prints one JSON line
of what it did.
"""

from __future__ import annotations

import json
import sys
import time

from dealer_pipeline.store.engine import create_store_engine
from tests.http.scripted_vendor import make_client


def main(argv: list[str]) -> int:
    url, db_url, path, start = argv[0], argv[1], argv[2], float(argv[3])
    seconds, min_calls = float(argv[4]), int(argv[5])
    engine = create_store_engine(db_url)
    client = make_client(url, engine)
    time.sleep(max(0.0, start - time.time()))
    until = time.time() + seconds
    calls = 0
    errors: list[str] = []
    while time.time() < until or calls < min_calls:
        try:
            client.request("GET", path)
            calls += 1
        except Exception as exc:  # noqa: BLE001 - reported; the parent asserts
            errors.append(str(exc))
            break
        time.sleep(0.02)
    client.close()
    print(json.dumps({"calls": calls, "token_requests": client.stats.token_requests, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
