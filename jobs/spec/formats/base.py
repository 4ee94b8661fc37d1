"""What every format shares: the format names, limits, the sample sheet's columns and ``FormatError``."""

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
