"""Import and export of the three compatibility formats, to and from the canonical spec. Pure: no Django.

- the sample-oriented YAML (``samples[]``, ``reference_genome``, ``pipeline``, ``priority``, ``max_retries``,
  ``preferred_cluster``, ``estimated_coverage``; ``name``, ``notifications``, ``export_uri``, ``notes`` and
  ``budget_usd`` when present). It carries the whole spec, so spec → YAML → spec is the identity.
- ``daylily_work.yaml`` as the Daylily monitor consumes it (``day-clone``, ``dy-r``, ``export_uri``,
  ``notes``, optional ``cluster_name`` and ``budget``). It names no samples, reference or priority: those
  come from the sample sheet and the importer's arguments.
- the 20-column ``stage_samples.tsv`` sample sheet.

Importers never rewrite a value they do not understand (an unknown priority stays as written, so the validator
reports it). What cannot be read at all raises ``FormatError`` with the line and the field.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from jobs.spec import SPEC_VERSION, field_path

MAX_TEXT_CHARS = 10_000_000
MAX_NODES = 500_000
DEFAULT_DAY_CLONE = " -d {workdir_name} -t main "

SAMPLES_YAML, DAYLILY_WORK, STAGE_SAMPLES = "samples_yaml", "daylily_work", "stage_samples_tsv"
FORMATS = (SAMPLES_YAML, DAYLILY_WORK, STAGE_SAMPLES)

# Canonical spec field -> sample-oriented YAML key, in the order the YAML is written.
YAML_KEYS = {
    "name": "name",
    "pipeline": "pipeline",
    "reference_genome": "reference_genome",
    "priority": "priority",
    "max_retries": "max_retries",
    "preferred_cluster": "preferred_cluster",
    "coverage": "estimated_coverage",
    "samples": "samples",
    "notifications": "notifications",
    "export_uri": "export_uri",
    "notes": "notes",
    "budget_usd": "budget_usd",
}
SPEC_ORDER = ("spec_version", *YAML_KEYS)

SAMPLE_SHEET_COLUMNS = (
    "RUN_ID",
    "SAMPLE_ID",
    "EXPERIMENTID",
    "SAMPLE_TYPE",
    "LIB_PREP",
    "SEQ_VENDOR",
    "SEQ_PLATFORM",
    "LANE",
    "SEQBC_ID",
    "PATH_TO_CONCORDANCE_DATA_DIR",
    "R1_FQ",
    "R2_FQ",
    "STAGE_DIRECTIVE",
    "STAGE_TARGET",
    "SUBSAMPLE_PCT",
    "IS_POS_CTRL",
    "IS_NEG_CTRL",
    "N_X",
    "N_Y",
    "EXTERNAL_SAMPLE_ID",
)
# What the Daylily portal wrote in the columns Runyard has nothing for.
SAMPLE_SHEET_DEFAULTS = {
    "SAMPLE_TYPE": "WGS",
    "LIB_PREP": "ILLUMINA",
    "SEQ_VENDOR": "ILLUMINA",
    "SEQ_PLATFORM": "NOVASEQ",
    "LANE": "1",
    "SEQBC_ID": "na",
    "PATH_TO_CONCORDANCE_DATA_DIR": "",
    "STAGE_DIRECTIVE": "STAGE",
    "STAGE_TARGET": "/fsx/staged_sample_data/",
    "SUBSAMPLE_PCT": "100",
    "IS_POS_CTRL": "FALSE",
    "IS_NEG_CTRL": "FALSE",
    "N_X": "na",
    "N_Y": "na",
}
NO_VALUE = {"", "na", "n/a", "none", "null", "-"}


class FormatError(ValueError):
    """A document that cannot be read as the format it claims to be. ``line`` is 1-based."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None):
        self.message, self.line, self.field = message, line, field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(part for part in (self.line and f"line {self.line}", self.field) if part)
        return f"{where}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"line": self.line, "field": self.field, "message": self.message}


# --- reading YAML with line numbers ---


class _Map(dict):
    line = 0
    key_lines: dict


class _Seq(list):
    line = 0
    item_lines: list


class _Loader(yaml.SafeLoader):
    """Safe loading that keeps dates as text (JSON has no dates) and remembers where everything was."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rule) for tag, rule in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_map(loader, node):
    data = _Map()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))
    for key_node, _ in node.value:
        data.key_lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1


def _construct_seq(loader, node):
    data = _Seq()
    data.line, data.item_lines = node.start_mark.line + 1, [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


@dataclass
class _Document:
    data: object
    lines: dict  # field path tuple -> line

    def line(self, *path) -> int | None:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)

    def error(self, message: str, *path) -> FormatError:
        return FormatError(message, line=self.line(*path), field=field_path(path) or None)


def _load_yaml(text) -> _Document:
    if isinstance(text, bytes):
        text = _decode(text)
    if not isinstance(text, str):
        raise FormatError("Give the document as text.")
    if len(text) > MAX_TEXT_CHARS:
        raise FormatError(f"The document is over {MAX_TEXT_CHARS // 1_000_000} MB.")
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = " ".join(part for part in (error.context, error.problem) if part) or "not valid YAML"
        raise FormatError(f"Not valid YAML: {problem}.", line=mark.line + 1 if mark else None) from error
    except yaml.YAMLError as error:
        raise FormatError(f"Not valid YAML: {error}.") from error
    except RecursionError as error:
        raise FormatError("The document is nested too deeply.") from error
    lines: dict = {}
    try:
        data = _plain(raw, (), lines, set(), [0])
    except RecursionError as error:
        raise FormatError("The document is nested too deeply.") from error
    return _Document(data, lines)


def _plain(value, path: tuple, lines: dict, parents: set, count: list):
    """Plain JSON values (dict, list, str, int, float, bool, None), recording each field's line."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise FormatError(f"The document has more than {MAX_NODES} values.")
    if isinstance(value, (_Map, _Seq)):
        if id(value) in parents:
            raise FormatError("The document refers to itself (a recursive alias).", line=value.line)
        lines.setdefault(path, value.line)
        parents = parents | {id(value)}
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            key_line = getattr(value, "key_lines", {}).get(key)
            if not isinstance(key, str):
                raise FormatError(f"Field names must be text, not {key!r}.", line=key_line)
            lines[(*path, key)] = key_line
            result[key] = _plain(item, (*path, key), lines, parents, count)
        return result
    if isinstance(value, list):
        item_lines = getattr(value, "item_lines", [])
        result_list = []
        for index, item in enumerate(value):
            if index < len(item_lines):
                lines[(*path, index)] = item_lines[index]
            result_list.append(_plain(item, (*path, index), lines, parents, count))
        return result_list
    if isinstance(value, float) and not math.isfinite(value):
        raise FormatError("Numbers must be finite.", line=_line(lines, path), field=field_path(path) or None)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise FormatError(
        f"Unsupported value of type {type(value).__name__}.",
        line=_line(lines, path),
        field=field_path(path) or None,
    )


def _line(lines: dict, path: tuple) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError("The document is not UTF-8 text.") from error


class _Dumper(yaml.SafeDumper):
    """Text with a character YAML folds or normalises (NEL, line/paragraph separators, CR) is written
    double-quoted, where those are escaped, so it reads back unchanged."""


def _represent_text(dumper, text: str):
    style = '"' if any(char in text for char in "\x85\u2028\u2029\r") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def _dump(data: dict) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def _ordered(spec: dict) -> dict:
    first = {key: spec[key] for key in SPEC_ORDER if key in spec}
    return {**first, **{key: value for key, value in spec.items() if key not in first}}


# --- the sample-oriented YAML ---


def to_samples_yaml(spec: dict) -> str:
    """The sample-oriented YAML of a spec: every field the spec has, under the YAML's names."""
    document = {YAML_KEYS[key]: spec[key] for key in YAML_KEYS if key in spec}
    extra = {key: value for key, value in spec.items() if key not in YAML_KEYS and key != "spec_version"}
    return _dump({**document, **extra})


def from_samples_yaml(text) -> dict:
    """The spec of a sample-oriented YAML (the canonical spec as YAML is accepted too)."""
    document = _load_yaml(text)
    data = document.data
    if not isinstance(data, dict):
        raise FormatError("The document must be a mapping of fields (name: …, samples: …).", line=1)
    if "estimated_coverage" in data and "coverage" in data:
        raise document.error("Give either estimated_coverage or coverage, not both.", "coverage")
    spec = {("coverage" if key == "estimated_coverage" else key): value for key, value in data.items()}
    spec.setdefault("spec_version", SPEC_VERSION)
    _check_samples(document, spec)
    return _ordered(spec)


def _check_samples(document: _Document, spec: dict) -> None:
    """Only the shape here; the schema checks the values (and reports them with their field paths)."""
    samples = spec.get("samples")
    if samples is None:
        return
    if not isinstance(samples, list):
        raise document.error("samples must be a list of samples (- sample_id: …).", "samples")
    for index, sample in enumerate(samples):
        if not isinstance(sample, dict):
            raise document.error("Each sample must be a mapping (sample_id, fastq_r1, …).", "samples", index)


# --- daylily_work.yaml ---


@dataclass(frozen=True)
class DaylilyWork:
    command: str
    day_clone: str | None
    export_uri: str | None
    notes: str | None
    cluster_name: str | None
    budget: float | int | None


def normalise_command(command: str) -> str:
    """Commands compare by their words: YAML's folded ``dy-r: >`` adds a newline, people add spaces."""
    return " ".join(command.split())


def to_daylily_work(
    spec: dict,
    *,
    command: str,
    export_uri: str | None = None,
    day_clone: str = DEFAULT_DAY_CLONE,
    workdir: str | None = None,
) -> str:
    """``daylily_work.yaml`` for a spec. ``command`` is the pipeline's ``dy-r`` from the catalogue;
    ``export_uri`` is used when the spec has none; ``workdir`` fills ``{workdir_name}`` in ``day-clone``."""
    document: dict = {
        "day-clone": day_clone.replace("{workdir_name}", workdir) if workdir else day_clone,
        "dy-r": command,
        "export_uri": spec.get("export_uri") or export_uri,
        "notes": spec.get("notes") or "",
    }
    if spec.get("preferred_cluster"):
        document["cluster_name"] = spec["preferred_cluster"]
    if spec.get("budget_usd") is not None:
        document["budget"] = spec["budget_usd"]
    name = "".join(char for char in re.sub(r"\s+", " ", str(spec.get("name") or "")) if char.isprintable())
    header = f"# daylily_work.yaml of the Runyard workset {name}; its samples are in stage_samples.tsv\n"
    return header + _dump(document)


def read_daylily_work(text) -> DaylilyWork:
    document = _load_yaml(text)
    data = document.data
    if not isinstance(data, dict):
        raise FormatError("daylily_work.yaml must be a mapping (day-clone: …, dy-r: …).", line=1)
    if "dy-r" not in data:
        raise FormatError("dy-r (the pipeline's target) is missing.", line=1, field="dy-r")
    values = {}
    for key in ("dy-r", "day-clone", "export_uri", "notes", "cluster_name"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise document.error(f"{key} must be text.", key)
        values[key] = value
    budget = data.get("budget")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))):
        raise document.error("budget must be a number (US dollars).", "budget")
    if not (values["dy-r"] or "").strip():
        raise document.error("dy-r is empty.", "dy-r")
    return DaylilyWork(
        command=normalise_command(values["dy-r"]),
        day_clone=values["day-clone"],
        export_uri=values["export_uri"],
        notes=values["notes"],
        cluster_name=values["cluster_name"],
        budget=budget,
    )


def from_daylily_work(
    text,
    *,
    commands: Mapping[str, str],
    sample_sheet=None,
    bucket: str | None = None,
    **fields,
) -> dict:
    """The spec of a ``daylily_work.yaml`` (and its ``stage_samples.tsv`` when given).

    ``commands`` maps each catalogue pipeline's ``dy-r`` to its code; a command not in it is kept as written
    in ``pipeline``, for the validator to report. ``fields`` supply what the file does not say (name,
    reference_genome, priority, …)."""
    work = read_daylily_work(text)
    known = {normalise_command(command): code for command, code in commands.items()}
    spec: dict = {"spec_version": SPEC_VERSION, **fields, "pipeline": known.get(work.command, work.command)}
    if sample_sheet is not None:
        spec["samples"] = read_stage_samples(sample_sheet, bucket=bucket)
    spec["export_uri"] = work.export_uri
    spec["notes"] = work.notes or ""
    if work.cluster_name:
        spec["preferred_cluster"] = work.cluster_name
    if work.budget is not None:
        spec["budget_usd"] = work.budget
    return _ordered(spec)


# --- stage_samples.tsv ---


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
        text = _decode(text)
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
    return _ordered(
        {"spec_version": SPEC_VERSION, **fields, "samples": read_stage_samples(text, bucket=bucket)}
    )


# --- any of the three ---


def detect_format(text) -> str:
    """Which format a text is in: a tab-separated header with SAMPLE_ID is a sample sheet; a mapping with
    ``dy-r`` or ``day-clone`` is daylily_work.yaml; anything else is read as the sample-oriented YAML."""
    if isinstance(text, bytes):
        text = _decode(text)
    if not isinstance(text, str):
        raise FormatError("Give the document as text.")
    first = next((line for line in text.removeprefix("\ufeff").splitlines() if line.strip()), "")
    if "\t" in first and "SAMPLE_ID" in first.split("\t"):
        return STAGE_SAMPLES
    if re.search(r"^(dy-r|day-clone)\s*:", text, flags=re.MULTILINE):
        return DAYLILY_WORK
    return SAMPLES_YAML


def parse(
    text,
    *,
    format: str | None = None,
    commands: Mapping[str, str] | None = None,
    sample_sheet=None,
    bucket: str | None = None,
    **fields,
) -> tuple[str, dict]:
    """(format, spec) of a document in any of the three formats. ``fields`` fill in what the daylily
    formats do not carry; the sample-oriented YAML carries everything and ignores them."""
    kind = format or detect_format(text)
    if kind == STAGE_SAMPLES:
        return kind, from_stage_samples(text, bucket=bucket, **fields)
    if kind == DAYLILY_WORK:
        spec = from_daylily_work(
            text, commands=commands or {}, sample_sheet=sample_sheet, bucket=bucket, **fields
        )
        return kind, spec
    if kind == SAMPLES_YAML:
        return kind, from_samples_yaml(text)
    raise FormatError(f"Unknown format {kind!r}; one of {', '.join(FORMATS)}.", field="format")


parse_sample_yaml = from_samples_yaml  # the name jobs.api.validation imports
