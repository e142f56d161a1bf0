"""A separate process calling Webmotors for one dealer through the client (multi-process tests).

    python -m tests.webmotors.worker DEALER_ID START_EPOCH CALLS

Reads the pipeline's settings from the environment (store URL, sandbox URL, client and dealer
credentials), waits for START_EPOCH so workers start together, fetches the first stock page
CALLS times and prints one JSON line of what it did.
"""

from __future__ import annotations

import json
import sys
import time

from dealer_pipeline.vendors.webmotors import WebmotorsClient


def main(argv: list[str]) -> int:
    dealer, start, count = argv[0], float(argv[1]), int(argv[2])
    errors: list[str] = []
    calls = 0
    with WebmotorsClient.for_dealer_id(dealer, stock_page_size=5) as client:
        time.sleep(max(0.0, start - time.time()))
        for _ in range(count):
            try:
                client.stock_page(1)
                calls += 1
            except Exception as exc:  # reported; the parent asserts
                errors.append(str(exc))
                break
        token_requests = client.http.stats.token_requests
    print(json.dumps({"calls": calls, "token_requests": token_requests, "errors": errors}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
