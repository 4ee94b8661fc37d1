"""The diagnostics catalogue recognises real-looking failure logs, ranks its matches, and never raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.diagnostics import (
    BY_CODE,
    CATALOGUE,
    RETRYABLE_CLASSES,
    UNKNOWN,
    diagnose,
    diagnose_all,
    render_html,
    render_text,
    report,
)

# One realistic excerpt per code: the intended code, then the log (the failing line among ordinary noise).
SAMPLES = {
    "WS-RES-001": (
        "[M::process] read 400000 sequences (40000000 bp)...\n"
        "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=1234.batch. Some of your processes may "
        "have been killed by the cgroup out-of-memory handler.\n"
    ),
    "WS-RES-002": (
        "[bam_sort_core] merging from 24 files and 8 in-memory blocks...\n"
        "[E::bgzf_flush] File write failed (wrong size)\n"
        'samtools sort: failed writing to "S1.sorted.bam": No space left on device\n'
    ),
    "WS-RES-003": (
        "Processed 81,234,000 reads\n"
        "slurmstepd: error: *** JOB 1234 ON node1 CANCELLED AT 2026-11-23T03:14:15 DUE TO TIME LIMIT ***\n"
    ),
    "WS-NET-001": (
        "download: s3://alpha-data/inputs/S1_R1.fastq.gz to ./S1_R1.fastq.gz\n"
        "botocore.exceptions.ReadTimeoutError: Read timeout on endpoint URL: "
        '"https://alpha-data.s3.eu-west-1.amazonaws.com/inputs/S1_R2.fastq.gz"\n'
    ),
    "WS-NET-002": (
        "Traceback (most recent call last):\n"
        "ConnectionRefusedError: [Errno 111] Connection refused\n"
        "urllib3.exceptions.NewConnectionError: Failed to establish a new connection\n"
    ),
    "WS-DAT-001": (
        "[M::bwa_idx_load_from_disk] read 0 ALT contigs\n"
        "[E::fastq_read] truncated quality string in S1_R1.fastq.gz at read 'A00123:8:H7:1:1101:1000:2000'\n"
    ),
    "WS-DAT-002": (
        "Building DAG of jobs...\n"
        "MissingInputException in rule fastqc in file /pipelines/qc/Snakefile, line 12:\n"
        "Missing input files for rule fastqc: inputs/S1_R1.fastq.gz\n"
    ),
    "WS-DAT-003": ("[E::bwa_idx_load_from_disk] fail to locate the index files\n"),
    "WS-AWS-001": (
        "upload failed: ./out/S1.bam to s3://alpha-data/out/S1.bam An error occurred (SlowDown) when "
        "calling the PutObject operation (reached max retries: 4): Please reduce your request rate.\n"
    ),
    "WS-AWS-002": (
        "fatal error: An error occurred (AccessDenied) when calling the ListObjectsV2 operation: "
        "Access Denied\n"
    ),
    "WS-PIP-001": (
        "[M::mem_pestat] analyzing insert size distribution for orientation FF...\n"
        "/bin/bash: line 1: 48211 Segmentation fault      bwa mem -t 16 GRCh38.fa S1_R1.fastq.gz "
        "S1_R2.fastq.gz\n"
        "Error in rule bwa_mem:\n"
    ),
    "WS-PIP-002": (
        "17:02:11.512 INFO  HaplotypeCaller - Shutting down engine\n"
        "***********************************************************************\n"
        "A USER ERROR has occurred: Read A00123:8:H7:1:1101:1000:2000 chr1:10001-10150 is malformed: "
        "read ends after the end of the contig\n"
        "org.broadinstitute.hellbender.exceptions.UserException$MalformedRead: read is malformed\n"
    ),
    "WS-CLU-001": (
        "slurmstepd: error: *** JOB 1234 ON node3 CANCELLED AT 2026-11-23T04:00:01 DUE TO NODE FAILURE, "
        "SEE SLURMCTLD LOG FOR DETAILS ***\n"
    ),
    "WS-CLU-002": ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n"),
    "WS-CFG-101": (
        "usage: fastq-qc [-h] [--threads THREADS] r1 r2\n"
        "fastq-qc: error: unrecognized arguments: --min-quality 20\n"
    ),
    "WS-CFG-102": (
        "WorkflowError:\nConfig file config.yaml: Error in config file: mapping values are not allowed here\n"
    ),
    "WS-CFG-103": ("/var/spool/slurmd/job01234/slurm_script: line 9: samtools: command not found\n"),
    "WS-CFG-104": (
        "sbatch: error: Batch job submission failed: Invalid account or account/partition combination "
        "specified\n"
    ),
}

MORE_SAMPLES = [
    ("WS-RES-001", "srun: error: node2: task 0: Out Of Memory\n"),
    ("WS-RES-001", 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n'),
    ("WS-RES-003", "JobID|State|ExitCode\n1234|TIMEOUT|0:0\n"),
    ("WS-NET-001", "An error occurred (RequestTimeout) when calling the UploadPart operation\n"),
    ("WS-DAT-001", "gzip: S1_R1.fastq.gz: unexpected end of file\n"),
    ("WS-DAT-001", '[mem_sam_pe] paired reads have different names: "r1/1", "r9/2"\n'),
    (
        "WS-DAT-002",
        "An error occurred (NoSuchKey) when calling the GetObject operation: The specified key "
        "does not exist.\n",
    ),
    ("WS-DAT-002", 'samtools view: failed to open "S1.bam" for reading: No such file or directory\n'),
    (
        "WS-DAT-003",
        "[E::fai_load3_core] Failed to open FASTA index GRCh38.fa.fai: No such file or directory\n",
    ),
    ("WS-DAT-003", "A USER ERROR has occurred: Input files reference and reads have incompatible contigs\n"),
    (
        "WS-AWS-001",
        "An error occurred (ThrottlingException) when calling the DescribeJobs operation: Rate exceeded\n",
    ),
    ("WS-CLU-001", "JobID|State\n1234|NODE_FAIL\n"),
    ("WS-CFG-103", "ModuleNotFoundError: No module named 'pysam'\n"),
]


def test_every_code_in_the_catalogue_has_a_sample_log_line():
    assert set(SAMPLES) == {entry.code for entry in CATALOGUE}


@pytest.mark.parametrize(("code", "log"), list(SAMPLES.items()) + MORE_SAMPLES)
def test_a_real_looking_log_is_diagnosed_as_its_code(code, log):
    diagnosis = diagnose(log)
    assert diagnosis.code == code, render_text(diagnosis)
    assert diagnosis.failure_class == BY_CODE[code].failure_class
    assert diagnosis.lines, "the matching line is reported"


def test_matched_lines_carry_their_line_number_in_the_log():
    diagnosis = diagnose(SAMPLES["WS-RES-002"])
    numbers = [line.number for line in diagnosis.lines]
    assert numbers == [2, 3]
    assert diagnosis.lines[1].text.endswith("No space left on device")


def test_failure_classes_are_mapped_deliberately():
    classes = {entry.code: entry.failure_class for entry in (*CATALOGUE, UNKNOWN)}
    assert {classes[c] for c in ("WS-RES-001", "WS-RES-002", "WS-RES-003")} == {"resource"}
    assert {classes[c] for c in ("WS-NET-001", "WS-NET-002", "WS-AWS-001", "WS-CLU-001", "WS-CLU-002")} == {
        "transient"
    }
    assert {classes[c] for c in ("WS-DAT-001", "WS-DAT-002", "WS-DAT-003", "WS-PIP-001", "WS-PIP-002")} == {
        "data"
    }
    assert classes["WS-AWS-002"] == "configuration"
    assert {classes[c] for c in classes if c.startswith("WS-CFG-")} == {"configuration"}
    assert classes["WS-UNK-000"] == "permanent"


def test_only_transient_and_resource_failures_are_retryable():
    assert {"transient", "resource"} == RETRYABLE_CLASSES
    for entry in (*CATALOGUE, UNKNOWN):
        assert entry.retryable == (entry.failure_class in {"transient", "resource"})


def test_runtime_configuration_codes_do_not_clash_with_validation_codes():
    from jobs.validation import CODES

    ours = {entry.code for entry in CATALOGUE if entry.code.startswith("WS-CFG-")}
    assert ours and not ours & set(CODES)


def test_a_specific_cause_outranks_the_generic_scheduler_line_printed_with_it():
    matches = diagnose_all(SAMPLES["WS-RES-003"])
    assert [m.code for m in matches] == ["WS-RES-003", "WS-CLU-002"]
    assert matches[0].score > matches[1].score


def test_a_tie_goes_to_the_more_severe_entry_not_the_first_registered():
    # One hint each: "time limit" (RES-003, warning) and "Permission denied" (AWS-002, error).
    log = "step exceeded nothing: time limit note\n/bin/sh: ./run.sh: Permission denied\n"
    matches = diagnose_all(log)
    assert [(m.code, m.score) for m in matches] == [("WS-AWS-002", 1), ("WS-RES-003", 1)]
    assert diagnose(log).code == "WS-AWS-002"


def test_a_tie_at_equal_severity_goes_to_catalogue_order():
    # NET-002 (error) and DAT-002 (error), one hint each; NET-002 comes first in the catalogue.
    log = "Unable to connect to the license server\nfile not found: sample.tsv\n"
    assert [m.code for m in diagnose_all(log)] == ["WS-NET-002", "WS-DAT-002"]


def test_a_repeated_line_counts_once():
    noisy = (
        "cat: x: No such file or directory\n" * 500
        + "[E::bwa_idx_load_from_disk] fail to locate the index files\n"
    )
    diagnosis = diagnose(noisy)
    assert diagnosis.code == "WS-DAT-003"
    dat002 = next(m for m in diagnosis.matches if m.code == "WS-DAT-002")
    assert dat002.score == 1 and dat002.hits == 500 and len(dat002.lines) == report.MAX_SHOWN_LINES


@pytest.mark.parametrize(
    "log", [None, "", "\n\n\n", "all good\nstep finished\n", b"\x00\xff\xfe binary", "\x00" * 50]
)
def test_an_unrecognised_log_gets_the_permanent_unknown_fallback(log):
    diagnosis = diagnose(log)
    assert diagnosis.entry is UNKNOWN
    assert diagnosis.code == "WS-UNK-000"
    assert diagnosis.failure_class == "permanent" and not diagnosis.retryable
    assert diagnosis.matches == ()
    assert "Remediation" in render_text(diagnosis)


def test_only_the_end_of_a_huge_log_is_read_and_line_numbers_stay_true():
    log = "header: No space left on device\n" + "progress line\n" * 100_000 + "node3: Out Of Memory\n"
    diagnosis = diagnose(log)
    assert diagnosis.truncated
    assert diagnosis.code == "WS-RES-001"  # the disk line at the top is outside the window
    assert [m.code for m in diagnosis.matches] == ["WS-RES-001"]
    assert diagnosis.lines[0].number == 100_002
    assert diagnosis.last_line == 100_002
    assert diagnosis.last_line - diagnosis.first_line + 1 <= report.MAX_LINES


def test_a_single_giant_line_is_read_without_error():
    diagnosis = diagnose("x" * (report.MAX_CHARS * 3) + " Connection refused")
    assert diagnosis.truncated
    assert diagnosis.code == "WS-NET-002"  # a long line keeps its tail
    assert len(diagnosis.lines[0].text) <= report.MAX_LINE_CHARS + 3


def test_text_report_shows_everything_an_operator_needs():
    text = render_text(diagnose(SAMPLES["WS-RES-001"]))
    for expected in (
        "WS-RES-001",
        "Out of memory",
        "ERROR",
        "resource",
        "Retryable: yes",
        "line 2:",
        "1. ",
        "4. ",
    ):
        assert expected in text


def test_html_report_escapes_log_lines():
    log = "<script>alert('x')</script> [E::bwa_idx_load_from_disk] fail to locate the index files & more\n"
    page = render_html(diagnose(log))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&amp; more" in page
    assert 'data-code="WS-DAT-003"' in page
    assert "<dt>Retryable</dt><dd>no</dd>" in page
    assert page.count("<li>") == len(BY_CODE["WS-DAT-003"].remediation)


def test_diagnosis_as_dict_is_json_ready():
    import json

    data = diagnose(SAMPLES["WS-NET-001"]).as_dict()
    assert json.loads(json.dumps(data))["code"] == "WS-NET-001"
    assert data["retryable"] is True and data["lines"][0]["number"] == 2


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000) | st.binary(max_size=2000).map(lambda b: b.decode("latin-1")))
def test_diagnose_never_raises_on_arbitrary_text(text):
    diagnosis = diagnose(text)
    assert diagnosis.code in BY_CODE
    assert diagnosis.entry is (diagnosis.matches[0].entry if diagnosis.matches else UNKNOWN)
    render_text(diagnosis)
    assert "<script" not in render_html(diagnosis).lower()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.lists(st.text(max_size=80), max_size=20))
def test_a_sample_buried_in_random_noise_is_still_found(code, noise):
    log = "\n".join(line.replace("\n", " ") for line in noise) + "\n" + SAMPLES[code]
    assert code in [m.code for m in diagnose_all(log)]


def test_a_tool_error_caused_by_memory_is_a_retryable_resource_failure():
    log = SAMPLES["WS-PIP-001"] + "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=1234.0.\n"
    diagnosis = diagnose(log)
    assert diagnosis.code == "WS-RES-001" and diagnosis.retryable
    assert "WS-PIP-001" in [m.code for m in diagnosis.matches]


def test_a_gatk_run_out_of_heap_is_a_resource_failure_not_a_gatk_error():
    log = (
        "17:02:11.512 INFO  HaplotypeCaller - Shutting down engine\n"
        "org.broadinstitute.hellbender.exceptions.GATKException: Exception thrown at chr1:10001\n"
        'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n'
    )
    assert diagnose(log).code == "WS-RES-001"
