"""The catalogues Runyard already knows, as passages for the knowledge base (global documents).

The diagnostics catalogue (``jobs.diagnostics.catalogue``: failures recognised in a step's log) and the
pre-run validation codes (``jobs.validation.CODES``) become one document, one section per code; the pipeline
and reference-genome catalogues (``jobs.catalog``, edited by operators) another, one section per row. Every
sentence is built from the catalogue's own fields, so the knowledge base says what the portal does.
"""

from chat.knowledge.reading import Passage, passages_of

DIAGNOSTICS_TITLE = "Diagnostics catalogue"
PIPELINES_TITLE = "Pipeline catalogue"


def diagnostics_passages() -> list[Passage]:
    from jobs.diagnostics.catalogue import BY_CODE
    from jobs.validation import CODES

    passages = []
    for code in sorted(CODES):
        item = CODES[code]
        body = (
            f"{code} ({item.severity}) is raised by the pre-run validation of a workset spec, before "
            f"anything runs: {item.title}.\n\nWhat to do: {item.fix}."
        )
        passages += passages_of(f"{code} · {item.title}", body)
    for code in sorted(BY_CODE):
        entry = BY_CODE[code]
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(entry.remediation, 1))
        retry = "is retried automatically" if entry.retryable else "is not retried (dead-letter queue)"
        body = (
            f"{code} ({entry.severity}, category {entry.category}, {entry.failure_class} failure) is "
            f"recognised in a failed step's log: {entry.description} It {retry}.\n\nWhat to do:\n{steps}"
        )
        passages += passages_of(f"{code} · {entry.name}", body)
    return passages


def pipeline_passages() -> list[Passage]:
    from jobs.catalog.models import Pipeline, ReferenceGenome

    passages = []
    for pipeline in Pipeline.objects.order_by("code"):
        state = "enabled" if pipeline.enabled else "disabled (new worksets cannot use it)"
        body = (
            f"Pipeline {pipeline.code}: {pipeline.name}. {pipeline.description}\n\n"
            f"It is {state}. Command (Daylily target): {pipeline.command}. Default coverage "
            f"{pipeline.default_coverage}×; each sample runs on {pipeline.vcpus_per_sample} vCPUs and needs "
            f"{pipeline.vcpu_hours_per_x} vCPU-hours and {pipeline.storage_gb_per_x} GB of storage per 1× of "
            "coverage (the estimates' starting constants)."
        )
        passages += passages_of(f"Pipeline {pipeline.code} · {pipeline.name}", body)
    for genome in ReferenceGenome.objects.order_by("code"):
        state = "enabled" if genome.enabled else "disabled"
        aliases = ", ".join(genome.aliases) or "none"
        body = (
            f"Reference genome {genome.code}: {genome.name} ({genome.species}), {state}. A workset spec may "
            f"name it by its code or an alias: {aliases}."
        )
        passages += passages_of(f"Reference genome {genome.code} · {genome.name}", body)
    return passages
