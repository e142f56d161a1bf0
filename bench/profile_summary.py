"""Top entries of a py-spy raw profile (`py-spy record -f raw`): where the samples went.

    python bench/profile_summary.py PROFILE.raw [--top 25]

Each raw line is `frame;frame;...;leaf COUNT`. Printed: the leaf functions with the largest share of
samples (self), the functions on the stack in the largest share (inclusive, counted once per
sample), and the share of samples spent in a few named areas (Dagster's bookkeeping, SQLAlchemy
statement compilation, HTTP, JSON, Great Expectations imports, idle waits).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

AREAS = {
    "idle (lock/select/sleep waits)": re.compile(r"\b(wait|select|sleep|acquire|_wait_for_tstate_lock|poll)\b \("),
    "dagster (outside the assets)": re.compile(r"\(dagster/"),
    "sqlalchemy compile": re.compile(r"\(sqlalchemy/sql/compiler\.py"),
    "requests/urllib3/http.client": re.compile(r"\((requests|urllib3)/|\(http/client\.py"),
    "json": re.compile(r"\(json/"),
    "great_expectations import": re.compile(r"<module> \(great_expectations/"),
    "psycopg2/postgres I/O": re.compile(r"\(psycopg2/|do_execute|do_executemany"),
    "dealer_pipeline code": re.compile(r"\(dealer_pipeline/"),
}
_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match["file"]
    for anchor in ("site-packages/", "lib/python3.11/", "dealer_pipeline/"):
        if anchor in file:
            file = ("dealer_pipeline/" if anchor == "dealer_pipeline/" else "") + file.split(anchor, 1)[1]
            break
    return f"{match['name']} ({file})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    with open(args.raw) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            frames = [short(frame) for frame in stack.split(";") if frame]
            total += n
            if frames:
                leaf[frames[-1]] += n
            for name in set(frames):
                inclusive[name] += n
            for area, pattern in AREAS.items():
                if pattern.search(stack):
                    areas[area] += n
    print(f"\n{total} samples")
    print("\nself (leaf) share:")
    for name, n in leaf.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\ninclusive share:")
    for name, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\nareas (a sample can be in several):")
    for area, n in areas.most_common():
        print(f"  {100 * n / total:5.1f}%  {area}")


if __name__ == "__main__":
    main()
