"""How long listing one big prefix takes, page by page: does the last page cost more than the first?

    python bench/storage_listing.py [--count 100000] [--page 1000] [--s3] [--keep DIR]

It fills the prefix ``bench/`` with ``--count`` small objects through the storage interface
(``Storage.upload``), then lists it with ``Storage.list(prefix, token=…, limit=--page)`` until there is no
next page, timing each call. The baseline is the first page of the same run: the report gives every
page's time, and last/first and slowest/first ratios.

Backends:

- default: ``LocalStorage`` in a temporary directory (removed at the end unless ``--keep``);
- ``--s3``: ``S3Storage`` against moto's standalone server, started here on a free port and stopped at the
  end. Filling moto over HTTP is slow (a few ms per object), so ``--s3`` defaults to 10,000 objects; the
  output says so. Pass ``--count 100000`` to fill the full prefix anyway.

No database and no Django settings are needed: the storage backends are plain classes.
"""

import argparse
import io
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tenants.storage.local import LocalStorage  # noqa: E402
from tenants.storage.s3 import Lifecycle, S3Config, S3Storage, configure_bucket, create_bucket  # noqa: E402

PREFIX = "bench/"
S3_DEFAULT_COUNT = 10_000
FILL_THREADS = 8


def main() -> None:
    args = parse_args()
    count = args.count or (S3_DEFAULT_COUNT if args.s3 else 100_000)
    with s3_storage() if args.s3 else local_storage(args.keep) as (storage, label):
        print(f"backend: {label}")
        if args.s3 and not args.count:
            print(
                f"note: --s3 fills {S3_DEFAULT_COUNT:,} objects by default (filling moto over HTTP is slow);"
            )
            print("      pass --count 100000 for the full prefix.")
        fill(storage, count)
        times = list_pages(storage, args.page)
        report(times, count, args.page)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, help="objects in the prefix (default 100,000; 10,000 with --s3)")
    parser.add_argument("--page", type=int, default=1000, help="objects per page (default 1,000)")
    parser.add_argument("--s3", action="store_true", help="S3Storage against a moto server started here")
    parser.add_argument("--keep", help="local backend: fill this directory and keep it (reused if full)")
    return parser.parse_args()


@contextmanager
def local_storage(keep: str | None):
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="runyard-bench-"))
    storage = LocalStorage("bench-listing", root)
    storage.create()
    try:
        yield storage, f"local directory {storage.base}"
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


@contextmanager
def s3_storage():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        config = S3Config(f"http://127.0.0.1:{port}", "us-east-1", "bench", "bench")
        wait_for_moto(config)
        name = f"bench-listing-{uuid.uuid4().hex[:8]}"
        create_bucket(name, config.region, config=config)
        configure_bucket(name, config=config, lifecycle=Lifecycle(), tags={"ManagedBy": "runyard-bench"})
        yield S3Storage(name, config), f"S3 (moto server {config.endpoint_url}, bucket {name}, versioned)"
    finally:
        process.terminate()
        process.wait(10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_moto(config: S3Config, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            config.client().list_buckets()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fill(storage, count: int) -> None:
    existing = count_existing(storage)
    if existing >= count:
        print(f"fill: {existing:,} objects already there")
        return
    started = time.perf_counter()
    keys = [f"{PREFIX}obj-{number:07d}.dat" for number in range(existing, count)]
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        for done, _ in enumerate(pool.map(lambda key: storage.upload(key, io.BytesIO(b"x" * 64)), keys), 1):
            if done % 10_000 == 0:
                print(f"fill: {existing + done:,} objects, {time.perf_counter() - started:.1f}s", flush=True)
    print(f"fill: {count:,} objects in {time.perf_counter() - started:.1f}s")


def count_existing(storage) -> int:
    total, token = 0, None
    while True:
        page = storage.list(PREFIX, token=token, limit=1000)
        total += len(page.objects)
        token = page.next_token
        if token is None:
            return total


def list_pages(storage, limit: int) -> list[tuple[float, int]]:
    times, token = [], None
    while True:
        started = time.perf_counter()
        page = storage.list(PREFIX, token=token, limit=limit)
        times.append((time.perf_counter() - started, len(page.objects) + len(page.folders)))
        token = page.next_token
        if token is None:
            return times


def report(times: list[tuple[float, int]], count: int, limit: int) -> None:
    listed = sum(n for _, n in times)
    seconds = [t for t, _ in times]
    print(f"listed {listed:,} of {count:,} objects in {len(times)} pages of up to {limit:,}")
    print("ms per page:")
    for start in range(0, len(seconds), 10):
        row = " ".join(f"{t * 1000:7.1f}" for t in seconds[start : start + 10])
        print(f"  {start + 1:4d}-{min(start + 10, len(seconds)):4d} {row}")
    first, last = seconds[0], seconds[-1]
    median = statistics.median(seconds)
    print(
        f"first {first * 1000:.1f} ms, last {last * 1000:.1f} ms, median {median * 1000:.1f} ms,"
        f" slowest {max(seconds) * 1000:.1f} ms, total {sum(seconds):.2f}s"
    )
    print(f"last/first {last / first:.2f}x, slowest/first {max(seconds) / first:.2f}x (baseline: first page)")
    if listed != count:
        print(f"WARNING: listed {listed:,} objects, expected {count:,}")


if __name__ == "__main__":
    main()
