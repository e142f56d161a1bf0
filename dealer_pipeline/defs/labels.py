"""Owners, kinds and tags, given the same way to every asset so the catalogue can be searched by them.

Kinds are the UI's icons: the store the asset writes (`sqlite` or `postgres`, read from
`DEALER_PIPELINE_DATABASE_URL` without validating it, so loading the definitions never fails on it),
the vendor it talks to, how it reads (`api`, `yaml`) and what its checks run on (`pandas`,
`great_expectations`). Tags say the domain, the vendor and the grain: `dealer` for assets
partitioned per dealer, `all_dealers` for the lists that keep those partitions, `table` for the
whole canonical table and the catalogue cache.
"""

import os
from typing import Any, Optional

OWNERS = ["team:dealer-pipeline"]


def store_kind() -> str:
    url = os.environ.get("DEALER_PIPELINE_DATABASE_URL", "")
    return "postgres" if url.startswith("postgres") else "sqlite"


def labels(domain: str, *kinds: str, vendor: Optional[str] = None, grain: str, writes_store: bool = True,
           ) -> dict[str, Any]:
    """`owners`, `kinds` and `tags` for `@dg.asset(...)`."""
    extra = ([vendor] if vendor else []) + ([store_kind()] if writes_store else [])
    tags = {"domain": domain, "grain": grain, **({"vendor": vendor} if vendor else {})}
    return {"owners": OWNERS, "kinds": {*kinds, *extra}, "tags": tags}
