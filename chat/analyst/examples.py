"""The example questions of the chat page, naming the tenant's own things where it has them: its latest
failed workset, a cancellable one, and an address in the hottest function of its latest profile. Clicking
an example then answers from the tenant's data instead of "there is no workset giab-batch-1a2b3c4d".
"I can't answer that…" lists them with placeholders."""

from __future__ import annotations

from django.core.cache import cache

# Placeholders where the tenant has nothing to name (also in "I can't answer that…").
WORKSET, ADDRESS = "giab-batch-1a2b3c4d", "0x401520"


def examples(*, workset: str = WORKSET, address: str = ADDRESS, cancellable: str | None = WORKSET):
    return (
        "What are the three hottest functions in my latest run?",
        "Which functions use AVX-512 (zmm) and which still use AVX2 (ymm)?",
        "Which functions have memory operations with high CPI, cache misses or page walks?",
        "Recommend compiler flags for this workload; it can use AVX-512.",
        f"Give me a detailed instruction profile of function {address}.",
        f"What's the status of workset {workset}? Why did it fail?",
        "What did each team spend on GPUs last week?",
        "How is the queue? What is our budget burn, forecast, usage, quota or invoice for March?",
        'Find files named "fastq"',
        "Show ISS job 12345",
        *([f"Cancel workset {cancellable}"] if cancellable else []),
    )


EXAMPLES = examples()


def examples_for(membership) -> tuple[str, ...]:
    """The examples with what ``membership`` can see: its tenant's codes and addresses, else placeholders."""
    from analysis.models import Profile
    from jobs.models import State, Workset

    # on their way, not one still being prepared (its owner is about to submit it)
    on_their_way = (State.QUEUED, State.DISPATCHED, State.RUNNING, State.RETRY_WAIT)
    worksets = Workset.objects.visible_to(membership).order_by("-state_changed_at")
    failed = worksets.filter(state__in=(State.FAILED, State.DEAD_LETTER)).first() or worksets.first()
    cancellable = worksets.filter(state__in=on_their_way).first()
    profile = Profile.objects.visible_to(membership).ready().order_by("-created_at", "-id").first()
    return examples(
        workset=failed.code if failed else WORKSET,
        address=(_hottest_address(profile) if profile else None) or ADDRESS,
        cancellable=cancellable.code if cancellable else None,
    )


def _hottest_address(profile) -> str | None:
    """The first of the hottest instructions of the profile's hottest function (kept while the parse
    that made its tables stands: a new parse is a new attempt)."""
    key = f"chat:example-address:{profile.code}:{profile.attempt}"
    found = cache.get(key)
    if found is None:
        found = _address_in_hottest_function(profile)
        cache.set(key, found, 24 * 3600)
    return found or None


def _address_in_hottest_function(profile) -> str:
    from analysis import insights
    from analysis.tables import NotReady, parsed
    from tenants.storage import StorageError

    try:
        tables = parsed(profile)
        rows = insights.hotspots(tables, by="function", limit=1).as_dict()["rows"]
        if not rows:
            return ""
        detail = insights.function_detail(tables, rows[0]["function"]).as_dict()
    except (NotReady, StorageError, LookupError, ValueError):
        return ""
    addresses = [row["address"] for row in detail["top_instructions"] if row.get("address") is not None]
    return f"{addresses[0]:#x}" if addresses else ""
