"""The starting catalogue. Operators change it in the admin; this runs once and never overwrites edits.

Constants per sample and per 1× of coverage, from the Daylily cost configuration (200 vCPU-minutes per 1× for
alignment-based pipelines scaled by pipeline weight, 1.5 GB of BAM per 1×); they are estimates until a tenant
has finished runs of its own.
"""

from decimal import Decimal

from django.db import migrations

SNV = 'produce_snv_concordances -p -k -j 20 --config aligners=["bwa2a"] dedupers=["dppl"] snv_callers=["deep"]'
PIPELINES = [
    # code, name, command, vCPU-h per sample per 1x, vCPUs per sample, GB per 1x, default coverage
    ("germline", "Germline small variants", SNV, "0.133333", 16, "1.5", "30"),
    ("somatic", "Somatic variants (tumour/normal)", SNV.replace("snv_callers", "sv_callers=[\"manta\"] snv_callers"), "0.266667", 32, "1.5", "60"),
    ("rnaseq", "RNA-seq expression", "produce_rnaseq_counts -p -k -j 20", "0.066667", 8, "0.5", "30"),
    ("wgs", "Whole genome (SNV + SV)", SNV.replace("snv_callers", "sv_callers=[\"manta\",\"tiddit\"] snv_callers"), "0.4", 32, "1.5", "30"),
    ("wes", "Whole exome", SNV + " --config targets=exome", "0.1", 8, "0.3", "100"),
    ("test_help", "Test run (prints the pipeline's help)", "help", "0.003333", 1, "0", "1"),
]
REFERENCES = [
    ("GRCh38", "Human GRCh38", "Homo sapiens", ["hg38", "grch38", "b38"]),
    ("GRCh37", "Human GRCh37", "Homo sapiens", ["hg19", "grch37", "b37"]),
    ("T2T-CHM13", "Human T2T-CHM13 v2.0", "Homo sapiens", ["chm13", "t2t", "hs1"]),
    ("GRCm39", "Mouse GRCm39", "Mus musculus", ["mm39"]),
]


def seed(apps, schema_editor):
    Pipeline = apps.get_model("catalog", "Pipeline")
    ReferenceGenome = apps.get_model("catalog", "ReferenceGenome")
    for code, name, command, per_x, vcpus, gb_per_x, coverage in PIPELINES:
        Pipeline.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "command": command,
                "vcpu_hours_per_x": Decimal(per_x),
                "vcpus_per_sample": vcpus,
                "storage_gb_per_x": Decimal(gb_per_x),
                "default_coverage": Decimal(coverage),
            },
        )
    for code, name, species, aliases in REFERENCES:
        ReferenceGenome.objects.get_or_create(
            code=code,
            defaults={"name": name, "species": species, "aliases": aliases, "aliases_lower": sorted(aliases)},
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
