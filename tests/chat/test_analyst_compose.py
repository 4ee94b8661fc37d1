"""The built-in analyst's answers carry the tools' figures exactly, with links, refusals and gaps said."""

from dataclasses import dataclass
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from chat.analyst.compose import chunks, compose, title
from chat.analyst.plan import Call, Plan
from chat.analyst.router import route


@dataclass
class FakeResult:
    tool: str
    arguments: dict
    data: object = None
    text: str = ""
    links: tuple = ()
    truncated: bool = False


HOT_FUNCTIONS = FakeResult(
    "profile_hotspots",
    {"by": "function", "limit": 3},
    text="| function | instructions | cycle share |\n|---|---|---|\n| ksw_extend2 | 1,234,567,890 | 41.7% |",
    links=(("Profile bwa-mem-0123abcd", "/profiles/bwa-mem-0123abcd/"),),
)
HOT_BLOCKS = FakeResult(
    "profile_hotspots",
    {"by": "block", "limit": 3},
    data=[{"block": "0x401520", "instructions": 98765432, "cycle_share": 0.1234}],
    links=(("Profile bwa-mem-0123abcd", "/profiles/bwa-mem-0123abcd/"),),
    truncated=True,
)


def hottest():
    question = "What are the three hottest functions or basic blocks in my latest run?"
    plan = route(question, today=date(2026, 11, 24))
    return compose(question, plan, [HOT_FUNCTIONS, HOT_BLOCKS])


def test_each_section_is_headed_by_what_was_looked_up():
    markdown = hottest().markdown
    assert "### Looked up: Hottest functions in the latest profile, top 3" in markdown
    assert "### Looked up: Hottest basic blocks in the latest profile, top 3" in markdown
    assert markdown.index("Hottest functions") < markdown.index("Hottest basic blocks")


def test_figures_are_carried_exactly_from_text_and_data():
    markdown = hottest().markdown
    assert "| ksw_extend2 | 1,234,567,890 | 41.7% |" in markdown
    assert "| 0x401520 | 98765432 | 0.1234 |" in markdown
    assert "| block | instructions | cycle_share |" in markdown


def test_links_are_listed_once_and_the_tools_cited():
    answer = hottest()
    assert answer.links == (("Profile bwa-mem-0123abcd", "/profiles/bwa-mem-0123abcd/"),)
    assert answer.markdown.count("- [Profile bwa-mem-0123abcd](/profiles/bwa-mem-0123abcd/)") == 1
    assert answer.cited_tools == ("profile_hotspots",)


def test_a_truncated_result_is_said_to_be_cut():
    markdown = hottest().markdown
    assert markdown.count("This result was cut to fit") == 1


def test_a_refusal_is_said_plainly_and_not_cited():
    plan = Plan((Call("workset_status", {"workset": "X"}),))
    answer = compose("What's the status of workset X?", plan, ["No workset X in this tenant."])
    assert "I could not look up status of workset X because no workset X in this tenant." in answer.markdown
    assert answer.cited_tools == ()
    assert answer.links == ()


def test_what_the_plan_could_not_answer_is_appended():
    plan = route("What was our usage last week?", today=date(2026, 11, 24))
    usage = FakeResult("usage_summary", {"month": "2026-11"}, text="GPU hours: **812.5**")
    markdown = compose("", plan, [usage]).markdown
    assert markdown.startswith("### Looked up: Usage, for 2026-11\n\nGPU hours: **812.5**")
    assert markdown.endswith("so I looked up 2026-11 whole.")


def test_an_unknown_question_gets_the_list_of_what_can_be_asked():
    plan = route("Tell me a joke", today=date(2026, 11, 24))
    answer = compose("Tell me a joke", plan, [])
    assert answer.markdown == plan.unanswered
    assert answer.cited_tools == ()


def test_a_cancel_waits_for_confirmation():
    plan = route("cancel workset giab-batch-1a2b3c4d", today=date(2026, 11, 24))
    markdown = compose("", plan, []).markdown
    assert "### Looked up: Cancel workset giab-batch-1a2b3c4d" in markdown
    assert "waits until you confirm" in markdown


def test_the_workload_described_by_the_user_is_acknowledged():
    plan = Plan(
        (Call("profile_recommendations", {"profile": "latest", "target": "avx512"}),),
        notes=("memory-bandwidth bound",),
    )
    advice = FakeResult("profile_recommendations", {}, text="Use `-march=x86-64-v4` (zmm share 0%).")
    markdown = compose("", plan, [advice]).markdown
    assert markdown.startswith("_You described the workload as memory-bandwidth bound._")
    assert "### Looked up: Compiler-flag advice for the latest profile, target avx512" in markdown
    assert "Use `-march=x86-64-v4` (zmm share 0%)." in markdown


def test_a_record_is_listed_and_cells_stay_on_one_line():
    plan = Plan((Call("quota_status", {}),))
    quota = FakeResult("quota_status", {}, data={"gpu_hours": 1500.25, "note": "a|b\nc"})
    markdown = compose("", plan, [quota]).markdown
    assert "- **gpu_hours**: 1500.25" in markdown
    assert "- **note**: a\\|b c" in markdown


def test_an_empty_result_says_nothing_was_found():
    plan = Plan((Call("search_files", {"query": "zzz"}),))
    markdown = compose("", plan, [FakeResult("search_files", {"query": "zzz"}, data=[])]).markdown
    assert markdown == "### Looked up: Files matching “zzz”\n\nThe tool found nothing."


def test_titles_name_periods_and_groupings():
    call = Call("cost_by", {"group_by": ["team", "model"], "start": "2026-11-16", "end": "2026-11-22"})
    assert title(call) == "Cost by team and model, 2026-11-16 to 2026-11-22"
    assert title(Call("profile_diff", {"profile": "latest", "against": "a-0123abcd"})) == (
        "the latest profile compared with profile a-0123abcd"
    )


def test_chunks_are_small_and_join_back_exactly():
    markdown = hottest().markdown + "\n" + "x" * 50
    pieces = list(chunks(markdown, size=12))
    assert "".join(pieces) == markdown
    assert all(0 < len(piece) <= 12 for piece in pieces)
    assert len(pieces) > len(markdown) // 12
    assert list(chunks("")) == []


@given(st.text(max_size=300), st.integers(min_value=1, max_value=40))
def test_any_text_is_cut_into_pieces_that_join_back(markdown, size):
    pieces = list(chunks(markdown, size=size))
    assert "".join(pieces) == markdown
    assert all(0 < len(piece) <= size for piece in pieces)


def test_a_line_after_a_list_is_a_paragraph_not_part_of_the_last_item():
    diagnosis = FakeResult(
        "workset_diagnosis",
        {"workset": "X"},
        text="What to do:\n- Add memory.\n  (per step)\n1. Split it.\nLog lines:\n- line 4: `OOM`",
    )
    plan = Plan((Call("workset_diagnosis", {"workset": "X"}),))
    markdown = compose("Why did workset X fail?", plan, [diagnosis]).markdown
    assert "What to do:\n- Add memory.\n  (per step)\n1. Split it.\n\nLog lines:\n- line 4: `OOM`" in markdown
