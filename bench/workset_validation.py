"""How long the bucket part of validating a 1,000-sample workset takes: concurrent HEADs vs one at a time.

    python bench/workset_validation.py [--samples 1000] [--concurrency 10 16 32] [--repeat 3]

It starts moto's standalone S3 server on a free port (stopped at the end), creates a bucket, uploads one
R1 and one R2 object per sample (2,000 objects for 1,000 samples) once, and builds the canonical spec of a
workset naming them as ``s3://<bucket>/<key>``. Then, in the same run, it times the per-sample work of
``jobs.validation.validate_workset``: the schema check (``jobs.spec.schema_problems``), confining every path
to the bucket (``jobs.spec.locations.bucket_key``) and the HEAD of every object
(``jobs.spec.locations.head_many``) — once with ``concurrency=1`` (the naive sequential loop, the baseline)
and once per ``--concurrency`` value. Each mode runs ``--repeat`` times; the report gives every time, the
best and median per mode, and the ratio sequential/concurrent of the medians. Every mode must find all
objects, or the bench says so.

The catalogue, quota and estimate queries of a real validation are a handful whatever the number of
samples, so they are left out and no database is needed. Each concurrency value gets a boto3 client with
as many pooled connections (botocore's default is 10, which ``HEAD_CONCURRENCY`` matches).
"""

import argparse
import io
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bench.storage_listing import s3_storage  # noqa: E402
from jobs.spec import schema_problems  # noqa: E402
from jobs.spec.locations import HEAD_CONCURRENCY, bucket_key, head_many  # noqa: E402
from tenants.storage.s3 import S3Storage  # noqa: E402

FILL_THREADS = 16


def main() -> None:
    args = parse_args()
    with s3_storage() as (storage, label):
        print(f"backend: {label}")
        spec = build_spec(storage.name, args.samples)
        fill(storage, spec)
        modes = [1, *dict.fromkeys(c for c in args.concurrency if c > 1)]
        times = {c: [check(with_pool(storage, c), spec, c) for _ in range(args.repeat)] for c in modes}
        report(times, args.samples)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000, help="samples in the workset (default 1,000)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[HEAD_CONCURRENCY, 16, 32], help="HEADs at once"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (default 3)")
    return parser.parse_args()


def build_spec(bucket: str, count: int) -> dict:
    samples = [
        {
            "sample_id": f"S{n:05d}",
            "fastq_r1": f"s3://{bucket}/bench/S{n:05d}_R1.fastq.gz",
            "fastq_r2": f"s3://{bucket}/bench/S{n:05d}_R2.fastq.gz",
        }
        for n in range(count)
    ]
    return {
        "spec_version": 1,
        "name": "Bench batch",
        "pipeline": "germline",
        "reference_genome": "GRCh38",
    } | {"samples": samples}


def paths(spec: dict) -> list[str]:
    return [sample[name] for sample in spec["samples"] for name in ("fastq_r1", "fastq_r2")]


def fill(storage, spec: dict) -> None:
    started = time.perf_counter()
    keys = [bucket_key(path, storage.name) for path in paths(spec)]
    with ThreadPoolExecutor(FILL_THREADS) as pool:
        list(pool.map(lambda key: storage.upload(key, io.BytesIO(b"@r\nACGT\n+\nIIII\n")), keys))
    print(f"fill: {len(keys):,} objects in {time.perf_counter() - started:.1f}s")


def with_pool(storage: S3Storage, connections: int) -> S3Storage:
    config = storage.config
    pooled = boto3.client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 5},
            max_pool_connections=max(connections, 10),
        ),
    )
    return S3Storage(storage.name, config, client=pooled)


def check(storage: S3Storage, spec: dict, concurrency: int) -> float:
    started = time.perf_counter()
    assert not schema_problems(spec), schema_problems(spec)[:3]
    keys = [bucket_key(path, storage.name) for path in paths(spec)]
    results = head_many(storage, keys, concurrency=concurrency)
    seconds = time.perf_counter() - started
    missing = [key for key, result in results.items() if not result.found]
    if missing or len(results) != len(keys):
        print(f"WARNING: concurrency {concurrency}: {len(missing)} of {len(keys)} objects not found")
    return seconds


def report(times: dict[int, list[float]], samples: int) -> None:
    baseline = statistics.median(times[1])
    print(f"workset of {samples:,} samples, {2 * samples:,} HEADs per validation")
    for concurrency, runs in times.items():
        name = "sequential (baseline)" if concurrency == 1 else f"concurrent x{concurrency}"
        median = statistics.median(runs)
        row = " ".join(f"{t:6.2f}" for t in runs)
        ratio = "" if concurrency == 1 else f"  sequential/concurrent {baseline / median:.1f}x"
        print(f"  {name:22s} runs [s] {row}  best {min(runs):.2f}s  median {median:.2f}s{ratio}")


if __name__ == "__main__":
    main()
