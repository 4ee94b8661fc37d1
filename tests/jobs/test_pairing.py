"""FASTQ files paired into samples by their names."""

from jobs.spec import schema_problems
from jobs.spec.pairing import pair_fastqs


def pairs_of(keys):
    return [(p.sample_id, p.fastq_r1, p.fastq_r2) for p in pair_fastqs(keys).pairs]


def test_illumina_names_pair_by_sample_and_lane():
    keys = ["in/HG002/HG002_S1_L001_R2_001.fastq.gz", "in/HG002/HG002_S1_L001_R1_001.fastq.gz"]
    assert pairs_of(keys) == [("HG002", keys[1], keys[0])]


def test_a_sample_on_two_lanes_becomes_one_sample_per_lane():
    keys = [f"in/m_S1_L00{lane}_R{read}_001.fq.gz" for lane in (1, 2) for read in (1, 2)]
    assert [sample for sample, _, _ in pairs_of(keys)] == ["m_L001", "m_L002"]


def test_r1_r2_names_pair_with_their_common_tail():
    keys = ["a_R1.fq.gz", "a_R2.fq.gz", "b.R1.fastq", "b.R2.fastq", "c_R1_trimmed.fq", "c_R2_trimmed.fq"]
    assert pairs_of(keys) == [
        ("a", "a_R1.fq.gz", "a_R2.fq.gz"),
        ("b", "b.R1.fastq", "b.R2.fastq"),
        ("c_trimmed", "c_R1_trimmed.fq", "c_R2_trimmed.fq"),
    ]


def test_dot_and_underscore_1_2_names_pair():
    keys = ["SRR1.1.fastq.gz", "SRR1.2.fastq.gz", "SRR2_1.fq", "SRR2_2.fq"]
    assert pairs_of(keys) == [
        ("SRR1", "SRR1.1.fastq.gz", "SRR1.2.fastq.gz"),
        ("SRR2", "SRR2_1.fq", "SRR2_2.fq"),
    ]


def test_files_without_a_mate_or_a_pattern_are_reported_and_other_files_ignored():
    pairing = pair_fastqs(
        ["lone_R1.fq.gz", "reads.fastq.gz", "stage_samples.tsv", "x_R1.fq", "x_R1.fq.gz", "x_R2.fq"]
    )
    assert pairing.pairs == []
    assert pairing.unpaired == ["lone_R1.fq.gz", "reads.fastq.gz", "x_R1.fq", "x_R1.fq.gz", "x_R2.fq"]


def test_mates_must_be_in_the_same_folder():
    assert pair_fastqs(["one/a_R1.fq", "two/a_R2.fq"]).unpaired == ["one/a_R1.fq", "two/a_R2.fq"]


def test_the_same_name_in_two_folders_gets_unique_sample_ids():
    keys = ["run1/a_R1.fq", "run1/a_R2.fq", "run2/a_R1.fq", "run2/a_R2.fq"]
    assert [sample for sample, _, _ in pairs_of(keys)] == ["a", "a-2"]


def test_odd_characters_become_sample_ids_the_spec_accepts():
    pairing = pair_fastqs(["in/_my sample+1_R1.fq", "in/_my sample+1_R2.fq"])
    spec = {"spec_version": 1, "name": "odd names", "pipeline": "wgs", "reference_genome": "hg38",
            "samples": pairing.samples()}  # fmt: skip
    assert pairing.pairs[0].sample_id == "my_sample_1"
    assert schema_problems(spec) == []
