"""The built-in analyst routes questions to the right tool calls, with the right arguments, and no guesses."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.analyst.periods import find_period
from chat.analyst.plan import Call
from chat.analyst.router import route

TODAY = date(2026, 11, 24)  # a Tuesday


def calls(question, *, today=TODAY, context=None):
    return route(question, today=today, context=context).calls


ISSUE_EXAMPLES = [
    (
        "What are the three hottest functions or basic blocks in my latest run, with instruction counts and "
        "cycle share?",
        (
            Call("profile_hotspots", {"profile": "latest", "by": "function", "limit": 3}),
            Call("profile_hotspots", {"profile": "latest", "by": "block", "limit": 3}),
        ),
    ),
    (
        "Which functions use AVX-512 (zmm) and which still use AVX2 (ymm)? "
        "Show names and sample instructions.",
        (Call("profile_vectorization", {"profile": "latest"}),),
    ),
    (
        "Which functions have memory operations with high CPI, cache misses or page walks?",
        (Call("profile_memory", {"profile": "latest"}),),
    ),
    (
        "Recommend compiler flags for this workload, which is memory-bandwidth bound and can use AVX-512, "
        "and justify them from the profile.",
        (
            Call("profile_recommendations", {"profile": "latest", "target": "x86-64-v4"}),
            Call("profile_memory", {"profile": "latest"}),
        ),
    ),
    (
        "Give me a detailed instruction profile of function 0x401520 "
        "(instruction mix, CPI, memory hierarchy).",
        (Call("profile_function", {"profile": "latest", "function": "0x401520"}),),
    ),
    ("What's the status of workset X?", (Call("workset_status", {"workset": "X"}),)),
    ("Why did workset X fail and what should I do?", (Call("workset_diagnosis", {"workset": "X"}),)),
    (
        "What did each team spend on GPUs last week?",
        (Call("cost_by", {"group_by": ["team"], "start": "2026-11-16", "end": "2026-11-22"}),),
    ),
]


@pytest.mark.parametrize(("question", "expected"), ISSUE_EXAMPLES)
def test_it_routes_each_example_question_of_the_issue_exactly(question, expected):
    plan = route(question, today=TODAY)
    assert plan.calls == expected
    assert plan.unanswered is None
    assert plan.needs_confirmation is False


def test_it_notes_what_the_user_says_about_the_workload():
    plan = route("Recommend flags; the code is memory-bandwidth bound and can use AVX-512", today=TODAY)
    assert plan.notes == ("memory-bandwidth bound",)


OTHER_TOOLS = [
    ("How is the queue looking?", Call("queue_status", {})),
    ("What is our budget burn?", Call("budget_burn", {})),
    ("What's the cost forecast for the end of the month?", Call("cost_forecast", {})),
    ("Show our usage in March", Call("usage_summary", {"month": "2026-03"})),
    ("How much of our quota is left?", Call("quota_status", {})),
    ("How many GPU hours did we use in March?", Call("usage_summary", {"month": "2026-03"})),
    ("Show me last month's invoice", Call("invoice", {"month": "2026-10"})),
    ("Show me the invoice", Call("invoice", {})),
    ('Find files named "NA12878_R1.fastq.gz"', Call("search_files", {"query": "NA12878_R1.fastq.gz"})),
    (
        "search files matching sample1 under runs/2026/",
        Call("search_files", {"query": "sample1", "prefix": "runs/2026/"}),
    ),
    ("Look up ISS job 48213", Call("iss_job", {"job_id": "48213"})),
    (
        "How long will workset giab-batch-1a2b3c4d take?",
        Call("estimate_workset", {"workset": "giab-batch-1a2b3c4d"}),
    ),
    ("Which worksets failed?", Call("list_worksets", {"state": "failed"})),
    ("List my top 5 running worksets", Call("list_worksets", {"state": "running", "limit": 5})),
    (
        "Show the 10 hottest source lines",
        Call("profile_hotspots", {"profile": "latest", "by": "line", "limit": 10}),
    ),
    (
        "top twelve hot blocks in profile bwa-mem-0123abcd",
        Call("profile_hotspots", {"profile": "bwa-mem-0123abcd", "by": "block", "limit": 12}),
    ),
    (
        "Deep dive into function `bwa_mem_align`",
        Call("profile_function", {"profile": "latest", "function": "bwa_mem_align"}),
    ),
    (
        "profile of function ksw_extend2 please",
        Call("profile_function", {"profile": "latest", "function": "ksw_extend2"}),
    ),
    (
        "Compare my latest run against profile bwa-mem-0123abcd",
        Call("profile_diff", {"profile": "latest", "against": "bwa-mem-0123abcd"}),
    ),
    (
        "Cost per model and by provider on aws for H100 from 2026-03-01 to 2026-03-15",
        Call(
            "cost_by",
            {
                "group_by": ["model", "provider"],
                "start": "2026-03-01",
                "end": "2026-03-15",
                "provider": "aws",
                "gpu_type": "H100",
            },
        ),
    ),
    (
        "What did we spend per GPU type yesterday?",
        Call("cost_by", {"group_by": ["gpu_type"], "start": "2026-11-23", "end": "2026-11-23"}),
    ),
    (
        "How much did we spend this month?",
        Call("cost_by", {"group_by": ["team"], "start": "2026-11-01", "end": "2026-11-24"}),
    ),
]


@pytest.mark.parametrize(("question", "expected"), OTHER_TOOLS)
def test_it_routes_the_other_tools(question, expected):
    assert calls(question) == (expected,)


def test_it_asks_for_confirmation_before_cancelling_a_workset():
    plan = route("Please cancel workset giab-batch-1a2b3c4d.", today=TODAY)
    assert plan.calls == (Call("cancel_workset", {"workset": "giab-batch-1a2b3c4d"}),)
    assert plan.needs_confirmation is True


def test_it_does_not_cancel_anything_it_was_not_named():
    plan = route("cancel it", today=TODAY)
    assert plan.calls == ()
    assert "Which workset?" in plan.unanswered


@pytest.mark.parametrize(
    ("question", "workset"),
    [
        ('Why did workset "giab batch" fail?', "giab batch"),
        ("why did workset ‘giab-batch’ fail?", "giab-batch"),
        ("What's the status of giab-batch-1a2b3c4d?", "giab-batch-1a2b3c4d"),
        ("STATUS OF WORKSET Giab-Batch-1A2B3C4D!", "Giab-Batch-1A2B3C4D"),
        ("what is the state of the workset named rnaseq_q3.", "rnaseq_q3"),
    ],
)
def test_it_finds_worksets_in_quotes_after_the_word_or_by_code(question, workset):
    assert calls(question)[0].arguments == {"workset": workset}


@pytest.mark.parametrize(
    "question", ["Why did it fail?", "What's the status of this workset?", "how is it doing"]
)
def test_it_resolves_it_from_the_conversation(question):
    found = calls(question, context={"workset": "giab-batch-1a2b3c4d"})
    assert found[0].arguments == {"workset": "giab-batch-1a2b3c4d"}


def test_a_question_about_worksets_in_general_is_a_list_even_mid_conversation():
    found = calls("Which worksets failed that I submitted?", context={"workset": "giab-batch-1a2b3c4d"})
    assert found == (Call("list_worksets", {"state": "failed"}),)


def test_what_should_i_do_asks_for_a_diagnosis():
    assert calls("What should I do about workset rnaseq-q3?") == (
        Call("workset_diagnosis", {"workset": "rnaseq-q3"}),
    )


def test_the_words_of_a_code_or_quoted_name_do_not_pick_the_intent():
    assert calls("What's the status of workset broken-run-1a2b3c4d?") == (
        Call("workset_status", {"workset": "broken-run-1a2b3c4d"}),
    )
    assert calls('What is the state of workset "Hot fix"?') == (
        Call("workset_status", {"workset": "Hot fix"}),
    )


def test_a_workset_name_with_spaces_is_taken_up_to_where_the_sentence_goes_on():
    assert calls("What's the status of workset GIAB trio QC?") == (
        Call("workset_status", {"workset": "GIAB trio QC"}),
    )
    assert calls("Why did workset GIAB trio QC fail and what should I do?") == (
        Call("workset_diagnosis", {"workset": "GIAB trio QC"}),
    )
    assert calls("status of workset giab-batch-1a2b3c4d please") == (  # a code stands alone
        Call("workset_status", {"workset": "giab-batch-1a2b3c4d"}),
    )


def test_a_workset_in_the_queue_is_its_status_and_plural_names_are_a_list_filter():
    assert calls("Is workset foo still in the queue?") == (Call("workset_status", {"workset": "foo"}),)
    found = calls('show failed worksets named "giab"', context={"workset": "other-0123abcd"})
    assert found == (Call("list_worksets", {"state": "failed", "query": "giab"}),)


def test_gpu_types_in_the_plural_are_filters():
    found = calls("Which team spent the most on A100s in March?")
    assert found == (
        Call(
            "cost_by", {"group_by": ["team"], "start": "2026-03-01", "end": "2026-03-31", "gpu_type": "A100"}
        ),
    )


def test_an_impossible_date_is_said_rather_than_half_read():
    plan = route("costs from 2026-02-30 to 2026-03-01", today=TODAY)
    assert plan.calls == ()
    assert plan.unanswered == "2026-02-30 is not a date; please check it and ask again."
    assert find_period("cost over the last 0 days", TODAY) is None


def test_it_never_guesses_a_workset():
    plan = route("Why did it fail?", today=TODAY, context={})
    assert plan.calls == ()
    assert plan.unanswered.startswith("Which workset?")


def test_this_run_means_the_profile_of_the_conversation():
    found = calls("what are the hottest functions in this run?", context={"profile": "bwa-mem-0123abcd"})
    assert found == (Call("profile_hotspots", {"profile": "bwa-mem-0123abcd", "by": "function"}),)


def test_uppercase_hex_addresses_are_read_in_lower_case():
    assert calls("Instruction mix of function 0X401AB0?")[0].arguments["function"] == "0x401ab0"


def test_digits_of_codes_addresses_and_dates_are_not_counts():
    found = calls("hottest functions in profile run-7-0123abcd")
    assert found == (Call("profile_hotspots", {"profile": "run-7-0123abcd", "by": "function"}),)


@pytest.mark.parametrize("question", ["Tell me a joke", "What's the weather in Paris?", ""])
def test_it_says_what_it_can_answer_when_it_cannot_map_a_question(question):
    plan = route(question, today=TODAY)
    assert plan.calls == ()
    assert "I can't answer that" in plan.unanswered
    assert "- What did each team spend on GPUs last week?" in plan.unanswered


def test_a_period_other_than_a_month_is_widened_for_usage_and_said_so():
    plan = route("What was our usage last week?", today=TODAY)
    assert plan.calls == (Call("usage_summary", {"month": "2026-11"}),)
    assert "2026-11" in plan.unanswered


@pytest.mark.parametrize(
    ("words", "today", "start", "end"),
    [
        ("last week", date(2026, 3, 4), date(2026, 2, 23), date(2026, 3, 1)),  # across a month
        ("last week", date(2027, 1, 1), date(2026, 12, 21), date(2026, 12, 27)),  # across a year
        ("last week", date(2026, 11, 23), date(2026, 11, 16), date(2026, 11, 22)),  # on a Monday
        ("last week", date(2026, 11, 29), date(2026, 11, 16), date(2026, 11, 22)),  # on a Sunday
        ("this week", TODAY, date(2026, 11, 23), TODAY),
        ("yesterday", date(2026, 1, 1), date(2025, 12, 31), date(2025, 12, 31)),
        ("last 7 days", TODAY, date(2026, 11, 18), TODAY),
        ("this month", TODAY, date(2026, 11, 1), TODAY),
        ("last month", date(2026, 1, 15), date(2025, 12, 1), date(2025, 12, 31)),
        ("in March", TODAY, date(2026, 3, 1), date(2026, 3, 31)),
        ("in December", TODAY, date(2025, 12, 1), date(2025, 12, 31)),
        ("in February 2024", TODAY, date(2024, 2, 1), date(2024, 2, 29)),
        ("from 2026-03-15 to 2026-03-01", TODAY, date(2026, 3, 1), date(2026, 3, 15)),
        ("since 2026-11-02", TODAY, date(2026, 11, 2), TODAY),
        ("on 2026-11-02", TODAY, date(2026, 11, 2), date(2026, 11, 2)),
    ],
)
def test_periods_are_inclusive_day_ranges_counted_from_today(words, today, start, end):
    period = find_period(words, today)
    assert (period.start, period.end) == (start, end)


def test_may_the_verb_is_not_a_month():
    assert find_period("may I see the costs?", TODAY) is None
    assert find_period("costs in may", TODAY).month == "2026-05"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_any_text_gets_a_plan_or_a_plain_answer(question):
    plan = route(question, today=TODAY)
    assert plan.calls or plan.unanswered
    one_workset = [call for call in plan.calls if "workset" in call.tool and call.tool != "list_worksets"]
    assert all(call.arguments.get("workset") for call in one_workset)  # never an empty name


def test_the_word_worksets_alone_lists_them():  # found by the property test above
    assert calls("WORKSETS") == (Call("list_worksets", {}),)
