"""FASTQ files into samples by their names. Pure: no Django, no storage.

Recognised, in this order (the first that matches a name wins):
- Illumina's ``<sample>_S<n>_L<lane>_R<1|2>_<nnn>`` (``HG002_S1_L001_R1_001.fastq.gz``); a sample on several
  lanes gives one sample per lane (``HG002_L001``, ``HG002_L002``), since a sample has one pair of files;
- ``<sample>_R1`` / ``<sample>_R2``, also with ``.`` or ``-`` and a common tail (``x_R1_trimmed``);
- ``<sample>_1`` / ``<sample>_2`` and ``<sample>.1`` / ``<sample>.2`` (SRA style).
Files of a pair sit in the same folder. A FASTQ with no mate, or whose name fits none of these, is
reported as unpaired; keys that are not FASTQ files are ignored.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

FASTQ = re.compile(r"\.(?:fastq|fq)(?:\.(?:gz|bz2|zst|xz))?$", re.IGNORECASE)
PATTERNS = (
    ("illumina", re.compile(r"^(?P<sample>.+?)_S\d+_(?P<lane>L\d{3})_R(?P<read>[12])_(?P<tail>\d{3})$")),
    ("r1r2", re.compile(r"^(?P<sample>.+?)[._-]R(?P<read>[12])(?P<tail>(?:[._-].*)?)$")),
    ("dot12", re.compile(r"^(?P<sample>.+?)[._](?P<read>[12])$")),
)
SAMPLE_ID_MAX = 64


@dataclass(frozen=True)
class Pair:
    sample_id: str
    fastq_r1: str
    fastq_r2: str


@dataclass(frozen=True)
class Pairing:
    pairs: list[Pair] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)

    def samples(self) -> list[dict]:
        """The pairs as spec samples."""
        return [
            {"sample_id": p.sample_id, "fastq_r1": p.fastq_r1, "fastq_r2": p.fastq_r2, "coverage": None}
            for p in self.pairs
        ]


def is_fastq(key: str) -> bool:
    return bool(FASTQ.search(key))


def _read_of(key: str):
    """(pair key, read number, sample name, lane) of a FASTQ key, or None when its name fits no pattern."""
    folder, _, name = key.rpartition("/")
    stem = FASTQ.sub("", name)
    for kind, pattern in PATTERNS:
        match = pattern.match(stem)
        if match:
            parts = match.groupdict()
            lane = parts.get("lane")
            pair_key = (folder, kind, parts["sample"], lane, parts.get("tail") or "")
            return pair_key, int(parts["read"]), parts["sample"], lane
    return None


def sample_id(name: str) -> str:
    """A name the spec accepts: letters, digits, '.', '_', '-', starting with a letter or digit."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip("._-")
    return (cleaned or "sample")[:SAMPLE_ID_MAX]


def pair_fastqs(keys: Iterable[str]) -> Pairing:
    """Pairs of R1/R2 files as samples, in key order, with unique sample ids; and the files left over."""
    groups: dict[tuple, dict[int, list[str]]] = {}
    unpaired = []
    for key in sorted(set(keys)):
        if not is_fastq(key):
            continue
        read = _read_of(key)
        if read is None:
            unpaired.append(key)
            continue
        groups.setdefault(read[0], {1: [], 2: []})[read[1]].append(key)
    lanes: dict[tuple, set] = {}
    for folder, _kind, sample, lane, _tail in groups:
        lanes.setdefault((folder, sample), set()).add(lane)
    pairs, used = [], set()
    for (folder, kind, sample, lane, tail), reads in sorted(
        groups.items(), key=lambda item: min(item[1][1] + item[1][2])
    ):
        if len(reads[1]) != 1 or len(reads[2]) != 1:
            unpaired.extend(reads[1] + reads[2])
            continue
        name = sample + (tail if kind == "r1r2" else "")
        if len(lanes[(folder, sample)]) > 1 and lane:
            name = f"{name}_{lane}"
        pairs.append(Pair(_unique(sample_id(name), used), reads[1][0], reads[2][0]))
    return Pairing(pairs=pairs, unpaired=sorted(unpaired))


def _unique(name: str, used: set) -> str:
    candidate, number = name, 1
    while candidate in used:
        number += 1
        suffix = f"-{number}"
        candidate = name[: SAMPLE_ID_MAX - len(suffix)] + suffix
    used.add(candidate)
    return candidate
