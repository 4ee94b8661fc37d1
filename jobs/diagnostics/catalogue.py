"""The diagnostics catalogue: every failure Runyard can recognise in a step's log, one entry per code.

Pure Python (no Django), so the worker, the dispatcher and the admin can all use it. Each ``Entry`` has a
code ``WS-<CAT>-<NNN>``, a short name, a severity, a category (what broke), a *failure class* (what the
retry logic should do about it), weighted case-insensitive patterns, and numbered remediation steps.

Failure classes and retries: only ``transient`` and ``resource`` failures retry (``retryable`` is derived
from the class, never set by hand). ``configuration``, ``data`` and ``permanent`` failures go straight to
the dead-letter queue: running the same command on the same inputs again would fail the same way.

Pattern weights: a *signature* (wording only this failure produces, e.g. ``DUE TO TIME LIMIT``) weighs 3;
a *hint* (generic wording that also shows up around other failures, e.g. ``slurmstepd: error`` or ``No
such file or directory``) weighs 1. So a specific cause outranks the generic noise printed next to it.

Numbering: WS-CFG-001…099 belong to the pre-run validation (``jobs/validation.py``); configuration
errors that only show up when the command runs use WS-CFG-101 and up. WS-UNK-000 is the fallback.
"""

import re
from dataclasses import dataclass

CRITICAL, ERROR, WARNING, INFO = "critical", "error", "warning", "info"
SEVERITIES = (CRITICAL, ERROR, WARNING, INFO)  # most severe first
SEVERITY_RANK = {severity: len(SEVERITIES) - index for index, severity in enumerate(SEVERITIES)}

TRANSIENT, RESOURCE, CONFIGURATION, DATA, PERMANENT = (
    "transient",
    "resource",
    "configuration",
    "data",
    "permanent",
)
FAILURE_CLASSES = (TRANSIENT, RESOURCE, CONFIGURATION, DATA, PERMANENT)
RETRYABLE_CLASSES = frozenset({TRANSIENT, RESOURCE})

CATEGORIES = ("resource", "network", "data", "config", "aws", "pipeline", "cluster", "auth", "unknown")

SIGNATURE, HINT = 3, 1


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern
    weight: int

    @property
    def source(self) -> str:
        return self.regex.pattern


def signature(source: str) -> Pattern:
    return Pattern(re.compile(source, re.IGNORECASE), SIGNATURE)


def hint(source: str) -> Pattern:
    return Pattern(re.compile(source, re.IGNORECASE), HINT)


@dataclass(frozen=True)
class Entry:
    code: str
    name: str
    severity: str
    category: str
    failure_class: str
    description: str
    patterns: tuple[Pattern, ...]
    remediation: tuple[str, ...]

    @property
    def retryable(self) -> bool:
        return self.failure_class in RETRYABLE_CLASSES

    def __post_init__(self):
        if not re.fullmatch(r"WS-[A-Z]{3}-\d{3}", self.code):
            raise ValueError(f"bad code {self.code!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.code}: unknown severity {self.severity!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"{self.code}: unknown category {self.category!r}")
        if self.failure_class not in FAILURE_CLASSES:
            raise ValueError(f"{self.code}: unknown failure class {self.failure_class!r}")
        if not self.remediation:
            raise ValueError(f"{self.code}: no remediation steps")


CATALOGUE: tuple[Entry, ...] = (
    # ---- resources: the step needed more than it was given; a retry can ask for more (resource class) ----
    Entry(
        "WS-RES-001",
        "Out of memory",
        ERROR,
        "resource",
        RESOURCE,
        "A process of the step was killed or failed because it ran out of memory.",
        (
            signature(r"oom[-_ ]?kill"),
            signature(r"OOMKilled"),
            signature(r"out[- ]?of[- ]?memory"),
            signature(r"java\.lang\.OutOfMemoryError"),
            signature(r"std::bad_alloc"),
            signature(r"exceeded (?:job )?memory limit"),
            hint(r"Cannot allocate memory"),
            hint(r"\bMemoryError\b"),
        ),
        (
            "Look at the step's peak memory in the log and request more memory for it (pipeline memory "
            "setting or the Slurm --mem of that step).",
            "Run the step on a node type with more memory, or lower the threads per step so fewer "
            "buffers are held at once.",
            "If one sample is much larger than the others, split the workset so it runs on its own.",
            "If memory keeps growing with the same inputs, check any custom script in the step for a leak.",
        ),
    ),
    Entry(
        "WS-RES-002",
        "Disk full",
        # Critical: a full scratch or shared file system stops every workset on the cluster, not only this.
        CRITICAL,
        "resource",
        RESOURCE,
        "A write failed because the file system (scratch, shared storage or a quota) is full.",
        (
            signature(r"No space left on device"),
            signature(r"\bENOSPC\b"),
            signature(r"Disk quota exceeded"),
            signature(r"\bEDQUOT\b"),
            hint(r"File write failed"),
        ),
        (
            "Check free space on the step's working directory and scratch (df -h) on the node that ran it.",
            "Remove intermediate files of finished or abandoned worksets, and make sure temporary files "
            "are cleaned up when a step ends.",
            "Grow the shared file system or the quota, or run on nodes with larger local disks.",
            "Requeue the workset once space is available: finished steps are kept.",
        ),
    ),
    Entry(
        "WS-RES-003",
        "Time limit reached",
        WARNING,
        "resource",
        RESOURCE,
        "The scheduler stopped the step because it ran longer than its time limit.",
        (
            signature(r"DUE TO TIME LIMIT"),
            signature(r"(?-i:\bTIMEOUT\b)"),  # Slurm's job state, upper case only: not "Read timeout"
            signature(r"exceeded (?:the |its )?(?:job )?time limit"),
            signature(r"walltime (?:limit )?exceeded"),
            hint(r"\btime limit\b"),
        ),
        (
            "Compare the step's run time with its limit and raise the limit for that step.",
            "Check whether the step was slow for a reason (far more reads than usual, a slow file system, "
            "too few threads) rather than simply short of time.",
            "Use faster nodes or more threads for the step, or split the workset into smaller ones.",
        ),
    ),
    # ---- network and cloud: usually passes on its own; retry with backoff (transient class) ----
    Entry(
        "WS-NET-001",
        "S3 timeout",
        WARNING,
        "network",
        TRANSIENT,
        "A request to object storage (S3 or compatible) timed out.",
        (
            signature(r"ReadTimeoutError"),
            signature(r"ConnectTimeoutError"),
            signature(r"(?:Read|Connect) timeout on endpoint URL"),
            signature(r"\(RequestTimeout\)"),
            hint(r"\bS3\b.*timed out"),
            hint(r"aws s3 .*timeout"),
        ),
        (
            "Nothing to fix if it happens once: the workset is retried with backoff.",
            "If it repeats, check the storage provider's status page and the cluster's network path to the "
            "bucket (NAT gateway, VPC endpoint, proxy).",
            "For very large objects, raise the storage client's read timeout or use multipart transfers.",
        ),
    ),
    Entry(
        "WS-NET-002",
        "Connection refused",
        ERROR,
        "network",
        TRANSIENT,
        "A service the step talks to refused or could not take the connection.",
        (
            signature(r"Connection refused"),
            signature(r"\bECONNREFUSED\b"),
            signature(r"\[Errno 111\]"),
            signature(r"Could not connect to the endpoint URL"),
            hint(r"Unable to connect"),
        ),
        (
            "Check that the service named in the log line is running and listening on that address and port.",
            "Check firewalls and security groups between the node and the service.",
            "If the service was restarting, the retry will usually succeed.",
        ),
    ),
    Entry(
        "WS-AWS-001",
        "Request throttled",
        WARNING,
        "aws",
        TRANSIENT,
        "The cloud provider rejected requests because too many were sent too quickly.",
        (
            signature(r"ThrottlingException"),
            signature(r"TooManyRequestsException"),
            signature(r"RequestLimitExceeded"),
            signature(r"\(SlowDown\)"),
            signature(r"Rate exceeded"),
            hint(r"\bthrottl(?:ed|ing)\b"),
            hint(r"reduce your request rate"),
        ),
        (
            "Nothing to fix if it happens once: the workset is retried with backoff.",
            "If it repeats, lower the number of parallel transfers or API calls in the pipeline.",
            "Spread objects over more key prefixes, or ask the provider for a higher request quota.",
        ),
    ),
    # ---- cluster: the machine or the scheduler failed, not the step; retry elsewhere (transient) ----
    Entry(
        "WS-CLU-001",
        "Node failure",
        ERROR,
        "cluster",
        TRANSIENT,
        "The node running the step failed, was lost or was reclaimed.",
        (
            signature(r"\bNODE_FAIL\b"),
            signature(r"DUE TO NODE FAILURE"),
            signature(r"DUE TO PREEMPTION"),
            signature(r"lost contact with node"),
            signature(r"spot instance interruption"),
            hint(r"node failure"),
            hint(r"not responding"),
        ),
        (
            "Nothing to fix in the workset: it is retried, and finished steps are kept.",
            "Ask the operators to check the node's health (hardware, kernel log, cloud instance status) "
            "and drain it if it keeps failing.",
            "If nodes are reclaimed (spot/preemptible capacity), prefer on-demand capacity for long steps.",
        ),
    ),
    Entry(
        "WS-CLU-002",
        "Scheduler error",
        WARNING,
        "cluster",
        TRANSIENT,
        "The scheduler (Slurm) reported an error submitting, starting or tracking the step.",
        (
            hint(r"Batch job submission failed"),  # the reason after it decides (see WS-CFG-104)
            signature(r"Job submit failure"),
            signature(r"Unable to contact slurm controller"),
            signature(r"Socket timed out on send/recv operation"),
            signature(r"slurm_load_jobs error"),
            hint(r"\b(?:sbatch|srun|salloc|squeue|sacct): error"),
            hint(r"slurmstepd.*error"),
        ),
        (
            "Check that the Slurm controller is up and answering (scontrol ping, sinfo).",
            "Check the partition and node states for drained or down nodes.",
            "Transient controller errors are retried with backoff; if it persists, read slurmctld's log.",
        ),
    ),
    # ---- data: the inputs are wrong; the user must fix them (data class, no retry) ----
    Entry(
        "WS-DAT-001",
        "Invalid FASTQ",
        ERROR,
        "data",
        DATA,
        "A FASTQ file is malformed, truncated, or its two read files do not pair up.",
        (
            signature(r"truncated quality string"),
            signature(r"Invalid FASTQ"),
            signature(r"not a valid FASTQ"),
            signature(r"FASTQ.*corrupt"),
            signature(r"Unexpected end of.*fastq"),
            signature(r"fastq(?:\.gz)?: unexpected end of file"),
            signature(r"(?:sequence|seq) and quality (?:strings? )?(?:are|have|of) (?:of )?different length"),
            signature(r"paired reads have different names"),
        ),
        (
            "Compare the file's checksum with the sequencing provider's; re-upload it if they differ.",
            "Check that the upload finished: a truncated .fastq.gz fails with 'unexpected end of file'.",
            "Check that R1 and R2 belong to the same sample and list the reads in the same order.",
            "Run a FASTQ validator on the file before submitting the workset again.",
        ),
    ),
    Entry(
        "WS-DAT-002",
        "Missing input",
        ERROR,
        "data",
        DATA,
        "An input file the step needs does not exist where the step looked for it.",
        (
            signature(r"MissingInputException"),
            signature(r"\(NoSuchKey\)"),
            signature(r"The specified key does not exist"),
            signature(r"Cannot find input"),
            signature(r"Input file.*missing"),
            hint(r"No such file or directory"),
            hint(r"file not found"),
        ),
        (
            "Check that every input named in the workset is in the bucket under exactly that key.",
            "Check that the upload of each input finished before the workset was submitted.",
            "If the path was produced by an earlier step, look at that step's log: it may have written "
            "nothing.",
        ),
    ),
    Entry(
        "WS-DAT-003",
        "Invalid reference",
        ERROR,
        "data",
        DATA,
        "The reference genome or one of its index files is missing, unreadable or does not match the reads.",
        (
            signature(r"fail to locate the index files"),
            signature(r"Failed to open FASTA index"),
            signature(r"fasta index file .*(?:not found|does not exist)"),
            signature(r"(?:sequence )?dictionary file .*(?:not found|does not exist)"),
            signature(r"incompatible contigs"),
            signature(r"Invalid reference"),
            signature(r"Reference mismatch"),
            hint(r"reference.*not found"),
            hint(r"index.*missing"),
        ),
        (
            "Check the reference genome named in the workset against the catalogue (e.g. hg38 is GRCh38).",
            "Check that all index files sit next to the FASTA: .fai, .dict and the aligner's index "
            "(.amb .ann .bwt .pac .sa for BWA).",
            "Check that the reads were meant for this assembly: contig names must match (chr1 vs 1).",
        ),
    ),
    # ---- pipeline tools ----
    # BWA and GATK errors are classified as data, not retried: for the same inputs and index these tools
    # fail the same way every time (malformed reads, index/reads mismatch, bad header). When they fail for a
    # reason a retry could fix — memory, disk, time, a lost node — that reason is printed too. Every tool
    # pattern is therefore a hint (weight 1: "the tool failed" says nothing about why), so one signature of
    # the real cause (weight 3) outranks them and the workset is classified resource or transient.
    Entry(
        "WS-PIP-001",
        "BWA error",
        ERROR,
        "pipeline",
        DATA,
        "The BWA aligner stopped with an error.",
        (
            hint(r"bwa mem.*(?:failed|exit(?:ed)? (?:code|status|with status) [1-9])"),
            hint(r"Error in rule bwa"),
            hint(r"BWA-MEM.*error"),
            hint(r"\[bwa\].*error"),
            hint(r"\[E::bwa_\w+\]"),
            hint(r"Segmentation fault.*\bbwa\b"),
        ),
        (
            "Read the lines just above the error in the step's log: BWA names the file or read it choked on.",
            "Check the BWA index files of the reference (all five present, built by the same BWA version).",
            "Check the input reads (see WS-DAT-001) and requeue once they are fixed.",
        ),
    ),
    Entry(
        "WS-PIP-002",
        "GATK error",
        ERROR,
        "pipeline",
        DATA,
        "A GATK tool stopped with an error.",
        (
            hint(r"HaplotypeCaller.*failed"),
            hint(r"org\.broadinstitute\.hellbender\.exceptions\.\w+"),
            hint(r"GATKException"),
            hint(r"A USER ERROR has occurred"),
            hint(r"\bUserException\b"),
            hint(r"\bGATK\b.*error"),
        ),
        (
            "Read the message after 'A USER ERROR has occurred': GATK says which input it rejects.",
            "Check that the BAM is coordinate-sorted, indexed and has read groups.",
            "Check that the reference's .dict matches the BAM header (same contigs, same order).",
        ),
    ),
    # ---- access: credentials or policies are wrong; someone must change them (configuration) ----
    Entry(
        "WS-AWS-002",
        "Access denied",
        ERROR,
        "auth",
        # Configuration, not permanent: an operator or the tenant fixes a role, policy or key, then requeues.
        CONFIGURATION,
        "The step was not allowed to read or write something (bucket, object, key or file).",
        (
            signature(r"\(AccessDenied\)"),
            signature(r"AccessDenied"),
            signature(r"Access Denied"),
            signature(r"not authorized to perform"),
            signature(r"UnauthorizedAccess"),
            signature(r"InvalidAccessKeyId"),
            signature(r"SignatureDoesNotMatch"),
            signature(r"An error occurred \(403\)"),
            hint(r"Permission denied"),
        ),
        (
            "Check which resource the log line names and which identity (role or key) the step ran as.",
            "Check the bucket policy and the role's permissions for that action on that resource.",
            "For encrypted buckets, check that the role may use the encryption key.",
            "Requeue the workset once access is granted: finished steps are kept.",
        ),
    ),
    # ---- configuration errors that only show when the command runs (validation owns WS-CFG-001…099) ----
    Entry(
        "WS-CFG-101",
        "Unknown pipeline option",
        ERROR,
        "config",
        CONFIGURATION,
        "The pipeline command was given an option or argument it does not know.",
        (
            signature(r"unrecognized arguments?:"),
            signature(r"unrecognized option"),
            signature(r"unknown option"),
            signature(r"invalid option"),
            signature(r"no such option"),
        ),
        (
            "Compare the pipeline's command in the catalogue with the options the installed version accepts.",
            "Remove or rename the option in the pipeline's configuration, then requeue.",
        ),
    ),
    Entry(
        "WS-CFG-102",
        "Invalid pipeline configuration",
        ERROR,
        "config",
        CONFIGURATION,
        "The pipeline's configuration file or a parameter value was rejected.",
        (
            signature(r"Error in config(?:uration)? file"),
            signature(r"InvalidConfig"),
            signature(r"yaml\.\w+\.\w*Error"),
            signature(r"WorkflowError"),
            signature(r"error: argument [-\w]+: invalid"),
            hint(r"invalid (?:value|choice) for"),
        ),
        (
            "Read the line the error names in the pipeline's configuration and correct that value.",
            "Check the configuration against the pipeline's documented options and types.",
            "Requeue once the configuration is fixed.",
        ),
    ),
    Entry(
        "WS-CFG-103",
        "Tool not installed",
        ERROR,
        "config",
        CONFIGURATION,
        "A program or library the step calls is not installed or not on the PATH of the node.",
        (
            signature(r"command not found"),
            signature(r"executable file not found in \$PATH"),
            signature(r"ModuleNotFoundError"),
            signature(r"No module named"),
            signature(r"error while loading shared libraries"),
        ),
        (
            "Install the missing program in the pipeline's environment (container image or conda env).",
            "Check that the step activates that environment before running.",
            "Requeue once the environment is fixed.",
        ),
    ),
    Entry(
        "WS-CFG-104",
        "Scheduler rejected the job's settings",
        ERROR,
        "config",
        CONFIGURATION,
        "Slurm refused the step because its account, partition, QOS or resource request cannot be met.",
        (
            signature(r"Invalid account or account/partition combination"),
            signature(r"Invalid partition name specified"),
            signature(r"Invalid qos specification"),
            signature(r"Requested node configuration is not available"),
            signature(r"More processors requested than permitted"),
        ),
        (
            "Check the cluster's account, partition and QOS settings in the cluster registry.",
            "Check that the pipeline's CPU and memory request fits the largest node of that partition.",
            "Requeue once the settings are fixed, optionally on another cluster.",
        ),
    ),
)

# The fallback for a log no entry recognises. Permanent, deliberately: retrying something we cannot name is
# a guess that costs compute each time and can hide a real bug behind a loop of retries. Failures we *know*
# pass on their own are in the catalogue as transient; an unknown one goes to the dead-letter queue, where an
# operator reads the log and can requeue it — and the pattern that would have caught it belongs here.
UNKNOWN = Entry(
    "WS-UNK-000",
    "Unrecognised failure",
    ERROR,
    "unknown",
    PERMANENT,
    "The step failed and its log matched no known failure.",
    (),
    (
        "Read the end of the step's log for the first error message.",
        "If the cause turns out to be temporary (a service that was down), requeue the workset.",
        "Tell the Runyard maintainers the log line, so the catalogue can learn to recognise it.",
    ),
)

BY_CODE: dict[str, Entry] = {entry.code: entry for entry in (*CATALOGUE, UNKNOWN)}
if len(BY_CODE) != len(CATALOGUE) + 1:  # pragma: no cover — a duplicated code is a programming error
    raise ValueError("duplicate code in the diagnostics catalogue")
