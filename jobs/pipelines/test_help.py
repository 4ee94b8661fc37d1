"""``test_help``: prints the pipeline's usage and the spec it was given, and succeeds. ``--sleep N`` keeps it
busy N seconds first (to test cancelling)."""

import argparse
import json
import sys
import time

USAGE = """Runyard test pipeline (test_help)

Usage: python -m jobs.pipelines.test_help --spec spec.json [--sleep SECONDS]

Prints this help and the workset spec it was given, then exits 0. Runs no analysis and writes nothing;
use it to check that a cluster runs worksets end to end.
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="test_help", description=USAGE)
    parser.add_argument("--spec", default="spec.json")
    parser.add_argument("--sleep", type=float, default=0)
    args = parser.parse_args(argv)
    print(USAGE)
    with open(args.spec) as spec_file:
        spec = json.load(spec_file)
    print("Spec:")
    print(json.dumps(spec, indent=2, sort_keys=True))
    sys.stdout.flush()
    if args.sleep:
        time.sleep(args.sleep)
    print(f"{len(spec.get('samples', []))} sample(s); nothing to run. Done.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
