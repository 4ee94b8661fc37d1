"""``fastq_qc``: per sample, the read count, GC content, mean quality and quality histogram of R1 and R2.

    python -m jobs.pipelines.fastq_qc qc --manifest inputs/samples.json --out results/qc
    python -m jobs.pipelines.fastq_qc summarise --manifest inputs/samples.json --out results/qc

``qc`` writes ``<out>/<sample>.json``; ``summarise`` writes ``<out>/summary.tsv`` (one row per sample). A
malformed or truncated file fails the step with one line on stderr starting "Invalid FASTQ format:" and
naming the file and line, which the diagnostics catalogue classifies as WS-DAT-001. Qualities are Phred+33.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PHRED_OFFSET = 33
SUMMARY_COLUMNS = (
    "sample_id",
    "reads_r1",
    "reads_r2",
    "bases",
    "gc_percent",
    "mean_quality",
    "q30_percent",
)


class InvalidFastq(ValueError):
    def __init__(self, problem: str, line: int, source: str = ""):
        self.problem, self.line, self.source = problem, line, source
        where = f" in {source}" if source else ""
        super().__init__(f"Invalid FASTQ format: {problem} at line {line}{where}")


@dataclass
class ReadStats:
    reads: int = 0
    bases: int = 0
    gc: int = 0
    quality_sum: int = 0
    histogram: Counter = field(default_factory=Counter)  # Phred score -> bases

    @property
    def gc_percent(self) -> float:
        return round(100 * self.gc / self.bases, 4) if self.bases else 0.0

    @property
    def mean_quality(self) -> float:
        return round(self.quality_sum / self.bases, 4) if self.bases else 0.0

    @property
    def q30_percent(self) -> float:
        q30 = sum(count for score, count in self.histogram.items() if score >= 30)
        return round(100 * q30 / self.bases, 4) if self.bases else 0.0

    def add(self, other: ReadStats) -> ReadStats:
        return ReadStats(
            self.reads + other.reads,
            self.bases + other.bases,
            self.gc + other.gc,
            self.quality_sum + other.quality_sum,
            self.histogram + other.histogram,
        )

    def to_dict(self) -> dict:
        return {
            "reads": self.reads,
            "bases": self.bases,
            "gc_percent": self.gc_percent,
            "mean_quality": self.mean_quality,
            "q30_percent": self.q30_percent,
            "quality_histogram": {str(score): self.histogram[score] for score in sorted(self.histogram)},
        }


def records(lines: Iterable[str], source: str = "") -> Iterator[tuple[str, str, str]]:
    """(header, sequence, quality) of each four-line record; raise InvalidFastq naming the line."""
    iterator = iter(lines)
    number = 0
    while True:
        header = next(iterator, None)
        if header is None:
            return
        number += 1
        header = header.rstrip("\r\n")
        if not header:
            if next(iterator, None) is None:
                return  # a blank last line
            raise InvalidFastq("blank line inside the file", number, source)
        if not header.startswith("@"):
            raise InvalidFastq("header does not start with '@'", number, source)
        sequence, plus, quality = (next(iterator, None) for _ in range(3))
        if sequence is None:
            raise InvalidFastq("truncated record (no sequence)", number + 1, source)
        if plus is None:
            raise InvalidFastq("truncated record (no '+' line)", number + 2, source)
        if not plus.startswith("+"):
            raise InvalidFastq("third line of a record does not start with '+'", number + 2, source)
        sequence = sequence.rstrip("\r\n")
        if quality is None or len(quality.rstrip("\r\n")) < len(sequence):
            raise InvalidFastq("truncated quality string", number + 3, source)
        quality = quality.rstrip("\r\n")
        if len(quality) != len(sequence):
            raise InvalidFastq("sequence and quality are of different length", number + 3, source)
        number += 3
        yield header, sequence, quality


def stats_of(lines: Iterable[str], source: str = "") -> ReadStats:
    stats = ReadStats()
    for _header, sequence, quality in records(lines, source):
        stats.reads += 1
        stats.bases += len(sequence)
        upper = sequence.upper()
        stats.gc += upper.count("G") + upper.count("C")
        scores = [ord(symbol) - PHRED_OFFSET for symbol in quality]
        if scores and min(scores) < 0:
            raise InvalidFastq("quality character below '!'", stats.reads * 4, source)
        stats.quality_sum += sum(scores)
        stats.histogram.update(scores)
    return stats


def open_text(path: Path):
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="ascii", errors="replace")
    return open(path, encoding="ascii", errors="replace")


def file_stats(path: Path) -> ReadStats:
    try:
        with open_text(path) as lines:
            return stats_of(lines, path.name)
    except (EOFError, gzip.BadGzipFile, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise InvalidFastq(f"unreadable compressed data ({error})", 0, path.name) from error


def sample_report(sample_id: str, r1: Path, r2: Path | None) -> dict:
    first = file_stats(r1)
    report = {"sample_id": sample_id, "r1": first.to_dict(), "r2": None}
    combined = first
    if r2 is not None:
        second = file_stats(r2)
        if second.reads != first.reads:
            raise InvalidFastq(
                f"R1 has {first.reads} reads but R2 has {second.reads} (the pair does not match)",
                second.reads * 4,
                r2.name,
            )
        report["r2"] = second.to_dict()
        combined = first.add(second)
    report["combined"] = combined.to_dict()
    return report


def summary_row(report: dict) -> list[str]:
    combined = report["combined"]
    return [
        report["sample_id"],
        str(report["r1"]["reads"]),
        str(report["r2"]["reads"]) if report["r2"] else "",
        str(combined["bases"]),
        f"{combined['gc_percent']:.2f}",
        f"{combined['mean_quality']:.2f}",
        f"{combined['q30_percent']:.2f}",
    ]


def summary_tsv(reports: list[dict]) -> str:
    rows = ["\t".join(SUMMARY_COLUMNS), *("\t".join(summary_row(report)) for report in reports)]
    return "\n".join(rows) + "\n"


def load_manifest(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def command_qc(manifest: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    base = manifest.parent.parent  # paths in the manifest are relative to the work directory
    for sample in load_manifest(manifest):
        r1 = base / sample["fastq_r1"]
        r2 = base / sample["fastq_r2"] if sample.get("fastq_r2") else None
        for path in filter(None, (r1, r2)):
            if not path.exists():
                print(f"Input file not found: {path.name} (sample {sample['sample_id']})", file=sys.stderr)
                return 2
        report = sample_report(sample["sample_id"], r1, r2)
        (out / f"{sample['sample_id']}.json").write_text(json.dumps(report, indent=2))
        print(
            f"{sample['sample_id']}: {report['r1']['reads']} read pairs, "
            f"GC {report['combined']['gc_percent']:.2f}%, mean Q {report['combined']['mean_quality']:.2f}"
        )
    return 0


def command_summarise(manifest: Path, out: Path) -> int:
    reports = [json.loads((out / f"{s['sample_id']}.json").read_text()) for s in load_manifest(manifest)]
    (out / "summary.tsv").write_text(summary_tsv(reports))
    print(f"Wrote {out / 'summary.tsv'} ({len(reports)} samples).")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fastq_qc", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("qc", "summarise"))
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "qc":
            return command_qc(args.manifest, args.out)
        return command_summarise(args.manifest, args.out)
    except InvalidFastq as error:
        print(str(error), file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
