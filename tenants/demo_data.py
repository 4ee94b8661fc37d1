"""Sample inputs and usage for ``runyard demo``: small deterministic FASTQ pairs of the GIAB trio, a stage
sample sheet pointing at them, and a plausible day of compute. No Django, no downloads, fixed seeds: the
same bytes on every run and every machine, so a rerun finds its files already in place.
"""

import gzip
import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from jobs.spec.formats import SAMPLE_SHEET_COLUMNS

SAMPLES = ("HG002", "HG003", "HG004")  # the GIAB Ashkenazi trio: son, father, mother
READS_PER_FILE = 300
READ_LENGTH = 150
INPUT_PREFIX = "inputs/"
SAMPLE_SHEET_KEY = f"{INPUT_PREFIX}stage_samples.tsv"
INSTRUMENT, RUN_NUMBER, FLOWCELL, LANE = "LH00123", 42, "22FLTXLT3", 1
RUN_ID = f"R{RUN_NUMBER}_{FLOWCELL}"
INDEXES = {"HG002": "ACGTACGT+TGCATGCA", "HG003": "GATCGATC+CTAGCTAG", "HG004": "TTAGGCAT+ATGCCTAA"}
# NovaSeq-style binned qualities (Phred+33): mostly Q37, some Q25, a few Q11, rare Q2.
QUALITY_BINS = (("F", 0.86), (":", 0.10), (",", 0.035), ("#", 0.005))

# Sex chromosomes of each sample (N_X, N_Y): HG002 and HG003 are male, HG004 female.
KARYOTYPE = {"HG002": (1, 1), "HG003": (1, 1), "HG004": (2, 0)}
CORIELL_IDS = {"HG002": "NA24385", "HG003": "NA24149", "HG004": "NA24143"}


def fastq_keys(sample: str) -> tuple[str, str]:
    base = f"{INPUT_PREFIX}{sample}/{sample}_S{SAMPLES.index(sample) + 1}_L00{LANE}"
    return f"{base}_R1_001.fastq.gz", f"{base}_R2_001.fastq.gz"


def fastq_pair(sample: str, reads: int = READS_PER_FILE) -> tuple[bytes, bytes]:
    """Gzipped R1 and R2 of ``sample``: reads from a random genome fragment, R2 from the other strand."""
    rng = random.Random(f"runyard-demo-{sample}")  # noqa: S311 - sample data; a str seed is stable, hash() is not
    r1, r2 = io.StringIO(), io.StringIO()
    for number in range(reads):
        header = _header(sample, number, rng)
        fragment = "".join(rng.choices("ACGT", k=READ_LENGTH + rng.randint(50, 250)))
        _write_record(r1, f"{header} 1:N:0:{INDEXES[sample]}", fragment[:READ_LENGTH], rng)
        _write_record(
            r2, f"{header} 2:N:0:{INDEXES[sample]}", _reverse_complement(fragment)[:READ_LENGTH], rng
        )
    return _gzip(r1.getvalue()), _gzip(r2.getvalue())


def _header(sample: str, number: int, rng: random.Random) -> str:
    tile = 1101 + number // 100
    x, y = rng.randint(1000, 32000), rng.randint(1000, 32000)
    return f"@{INSTRUMENT}:{RUN_NUMBER}:{FLOWCELL}:{LANE}:{tile}:{x}:{y}"


def _write_record(out: io.StringIO, header: str, sequence: str, rng: random.Random) -> None:
    symbols, weights = zip(*QUALITY_BINS, strict=True)
    quality = "".join(rng.choices(symbols, weights=weights, k=len(sequence)))
    out.write(f"{header}\n{sequence}\n+\n{quality}\n")


def _reverse_complement(sequence: str) -> str:
    return sequence.translate(str.maketrans("ACGT", "TGCA"))[::-1]


def _gzip(text: str) -> bytes:
    """mtime=0 and no file name: the same text always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0, filename="") as out:
        out.write(text.encode())
    return buffer.getvalue()


def sample_sheet(location: Callable[[str], str]) -> str:
    """The stage sample sheet (tab-separated, 20 columns); ``location(key)`` gives a file's URI."""
    rows = ["\t".join(SAMPLE_SHEET_COLUMNS)]
    for sample in SAMPLES:
        r1, r2 = fastq_keys(sample)
        n_x, n_y = KARYOTYPE[sample]
        values = {
            "RUN_ID": RUN_ID,
            "SAMPLE_ID": sample,
            "EXPERIMENTID": "EXP_GIAB_TRIO_DEMO",
            "SAMPLE_TYPE": "blood",
            "LIB_PREP": "PCR-free",
            "SEQ_VENDOR": "ILMN",
            "SEQ_PLATFORM": "NOVASEQX",
            "LANE": str(LANE),
            "SEQBC_ID": INDEXES[sample],
            "PATH_TO_CONCORDANCE_DATA_DIR": f"giab/{sample}/GRCh38/v4.2.1/",
            "R1_FQ": location(r1),
            "R2_FQ": location(r2),
            "STAGE_DIRECTIVE": "stage_data",
            "STAGE_TARGET": f"worksets/{RUN_ID}/{sample}/",
            "SUBSAMPLE_PCT": "na",
            "IS_POS_CTRL": "true" if sample == "HG002" else "false",
            "IS_NEG_CTRL": "false",
            "N_X": str(n_x),
            "N_Y": str(n_y),
            "EXTERNAL_SAMPLE_ID": CORIELL_IDS[sample],
        }
        rows.append("\t".join(values[column] for column in SAMPLE_SHEET_COLUMNS))
    return "\n".join(rows) + "\n"


def demo_files(location: Callable[[str], str]) -> dict[str, bytes]:
    """Every key of the demo inputs and its bytes, sample sheet last (it points at the others)."""
    files: dict[str, bytes] = {}
    for sample in SAMPLES:
        for key, content in zip(fastq_keys(sample), fastq_pair(sample), strict=True):
            files[key] = content
    files[SAMPLE_SHEET_KEY] = sample_sheet(location).encode()
    return files


@dataclass(frozen=True)
class DemoUsage:
    kind: str  # a UsageRecord.Kind value
    dimension: str
    quantity: Decimal


def demo_usage(day: date) -> list[DemoUsage]:
    """A plausible day of a small genomics team: compute every weekday, GPUs and urgent runs now and then.

    Seeded by the date, so a day keeps its figures whatever day the demo is run on.
    """
    rng = random.Random(f"runyard-demo-usage-{day.isoformat()}")  # noqa: S311 - sample data
    weekday = day.weekday() < 5
    usage = [
        DemoUsage("vcpu_hours", "normal", _amount(rng, 40, 120) if weekday else _amount(rng, 5, 20)),
        DemoUsage("vcpu_hours", "low", _amount(rng, 10, 60)),
        DemoUsage("egress_gb", "in_region", _amount(rng, 5, 40)),
        DemoUsage("egress_gb", "internet", _amount(rng, 0, 3)),
        DemoUsage("ai_tokens", "", Decimal(rng.randrange(20_000, 250_000, 1000))),
    ]
    if weekday and rng.random() < 0.35:
        usage.append(DemoUsage("vcpu_hours", "urgent", _amount(rng, 8, 32)))
    if rng.random() < 0.4:
        usage.append(DemoUsage("gpu_hours", rng.choice(("a10g", "l4")), _amount(rng, 1, 6)))
    return usage


def _amount(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(str(round(rng.uniform(low, high), 2)))
