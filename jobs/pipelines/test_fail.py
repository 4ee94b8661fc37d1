"""``test_fail``: a failure drill. ``prepare`` succeeds; ``transfer`` fails the way an S3 download that timed
out fails (WS-NET-001, transient), so the workset is retried from ``transfer`` with backoff, keeps
``prepare``, and lands in the dead-letter queue once its retries are used. Use it to check that failure
handling, retries, notifications and the dead-letter queue work on a cluster, end to end.

    python -m jobs.pipelines.test_fail prepare|transfer [--sleep SECONDS]
"""

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="test_fail")
    parser.add_argument("step", choices=["prepare", "transfer"])
    parser.add_argument("--sleep", type=float, default=0)
    args = parser.parse_args(argv)
    if args.sleep:
        time.sleep(args.sleep)
    if args.step == "prepare":
        Path("prepared.txt").write_text("prepared\n")
        print("Prepared the drill's inputs.")
        return 0
    print("download: s3://drill-inputs/sample_R1.fastq.gz to inputs/sample_R1.fastq.gz", flush=True)
    print("aws s3 cp failed: Read timeout on endpoint URL: S3 request timed out after 60 s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
