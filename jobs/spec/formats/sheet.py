"""The 20-column ``stage_samples.tsv`` sample sheet."""

import re

from jobs.spec import SPEC_VERSION
from jobs.spec.formats.base import (
    MAX_TEXT_CHARS,
    NO_VALUE,
    SAMPLE_SHEET_COLUMNS,
    SAMPLE_SHEET_DEFAULTS,
    FormatError,
)
from jobs.spec.formats.documents import decode_text, in_spec_order


def _uri(path, bucket: str | None) -> str:
    if not isinstance(path, str) or not path:
        return "" if path is None else str(path)
    if bucket and not path.startswith("s3://"):
        return f"s3://{bucket}/{path}"
    return path


def _key(uri: str, bucket: str | None) -> str:
    prefix = f"s3://{bucket}/" if bucket else None
    return uri[len(prefix) :] if prefix and uri.startswith(prefix) else uri


def _cell(value: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", str(value))


def to_stage_samples(spec: dict, *, bucket: str | None = None, run_id: str | None = None) -> str:
    """The 20-column sample sheet; with ``bucket``, relative FASTQ keys become ``s3://<bucket>/<key>``."""
    run = run_id or re.sub(r"[^A-Za-z0-9._-]+", "-", str(spec.get("name") or "R0"))
    rows = ["\t".join(SAMPLE_SHEET_COLUMNS)]
    samples = spec.get("samples")
    for sample in samples if isinstance(samples, list) else []:
        if not isinstance(sample, dict):
            continue
        values = {
            **SAMPLE_SHEET_DEFAULTS,
            "RUN_ID": run,
            "SAMPLE_ID": sample.get("sample_id") or "",
            "EXPERIMENTID": run,
            "R1_FQ": _uri(sample.get("fastq_r1"), bucket),
            "R2_FQ": _uri(sample.get("fastq_r2"), bucket),
            "EXTERNAL_SAMPLE_ID": sample.get("sample_id") or "",
        }
        rows.append("\t".join(_cell(values[column]) for column in SAMPLE_SHEET_COLUMNS))
    return "\n".join(rows) + "\n"


def _sheet_lines(text) -> list[tuple[int, str]]:
    if isinstance(text, bytes):
        text = decode_text(text)
    if not isinstance(text, str):
        raise FormatError("Give the sample sheet as text.")
    if len(text) > MAX_TEXT_CHARS:
        raise FormatError(f"The sample sheet is over {MAX_TEXT_CHARS // 1_000_000} MB.")
    text = text.removeprefix("\ufeff")
    numbered = enumerate(re.split(r"\r\n|\r|\n", text), start=1)
    return [(number, line) for number, line in numbered if line.strip() and not line.startswith("#")]


def read_stage_samples(text, *, bucket: str | None = None) -> list[dict]:
    """The samples of a sample sheet, one per row, in order (a sample on two rows stays on two: the
    validator reports the duplicate id)."""
    lines = _sheet_lines(text)
    if not lines:
        raise FormatError("The sample sheet is empty: it needs the header row.", line=1)
    header_line, header = lines[0]
    columns = [name.strip() for name in header.split("\t")]
    missing = [name for name in SAMPLE_SHEET_COLUMNS if name not in columns]
    if missing:
        raise FormatError(
            f"Missing column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
            f"(a stage_samples.tsv has {len(SAMPLE_SHEET_COLUMNS)} tab-separated columns).",
            line=header_line,
            field=missing[0],
        )
    duplicated = sorted({name for name in columns if columns.count(name) > 1 and name})
    if duplicated:
        raise FormatError(f"Column {duplicated[0]} appears twice.", line=header_line, field=duplicated[0])
    return [_sheet_sample(number, line, columns, bucket) for number, line in lines[1:]]


def _sheet_sample(number: int, line: str, columns: list[str], bucket: str | None) -> dict:
    cells = line.split("\t")
    if len(cells) != len(columns):
        raise FormatError(
            f"This row has {len(cells)} columns; the header has {len(columns)} (separate them with tabs).",
            line=number,
        )
    row = {name: cell.strip() for name, cell in zip(columns, cells, strict=True)}
    if not row["SAMPLE_ID"]:
        raise FormatError("SAMPLE_ID is empty.", line=number, field="SAMPLE_ID")
    if row["R1_FQ"].lower() in NO_VALUE:
        raise FormatError("R1_FQ is empty: every sample needs its R1 FASTQ.", line=number, field="R1_FQ")
    r2 = row["R2_FQ"]
    return {
        "sample_id": row["SAMPLE_ID"],
        "fastq_r1": _key(row["R1_FQ"], bucket),
        "fastq_r2": None if r2.lower() in NO_VALUE else _key(r2, bucket),
        "coverage": None,
    }


def from_stage_samples(text, *, bucket: str | None = None, **fields) -> dict:
    """A spec from a sample sheet alone; ``fields`` give the rest (name, pipeline, reference_genome, …)."""
    return in_spec_order(
        {"spec_version": SPEC_VERSION, **fields, "samples": read_stage_samples(text, bucket=bucket)}
    )
