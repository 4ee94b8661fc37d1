"""The things a question names: worksets, profiles, addresses, functions, counts, groupings and targets.

Each finder reads the normalised text and returns ``None`` when the question does not say, so the router
never fills a gap with a guess (a wrong workset name would answer about someone else's work).
"""

import re
import unicodedata
from dataclasses import dataclass

NUMBER_WORDS = dict(
    zip(
        [
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ],
        range(1, 21),
        strict=True,
    )
)
NUMBER = rf"(\d{{1,3}}|{'|'.join(NUMBER_WORDS)})"
CODE = r"\b[a-z0-9]+(?:[-_][a-z0-9]+)*-[0-9a-f]{8}\b"
ADDRESS = r"\b0x[0-9a-f]+\b"
NOT_A_NAME = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "it",
        "its",
        "this",
        "that",
        "status",
        "state",
        "of",
        "for",
        "to",
        "and",
        "or",
        "with",
        "in",
        "on",
        "do",
        "did",
        "was",
        "has",
        "have",
        "had",
        "fail",
        "failed",
        "failing",
        "run",
        "runs",
        "running",
        "named",
        "called",
        "i",
        "my",
        "our",
        "me",
        "which",
        "what",
        "why",
        "how",
        "profile",
        "mix",
        "instruction",
        "cpi",
        "use",
        "uses",
        "using",
        "has",
        "takes",
        "spends",
        "calls",
        "does",
        "are",
        "be",
        "by",
        "at",
        "from",
    ]
)
QUOTES = {ord(c): '"' for c in "“”„«»"} | {ord(c): "'" for c in "‘’‚"}
GROUPS = {
    "team": r"teams?",
    "model": r"models?",
    "provider": r"providers?",
    "gpu_type": r"gpu[\s_-]?types?|gpus?|gpu[\s_-]?models?",
    "day": r"days?|daily",
    "week": r"weeks?|weekly",
    "month": r"months?|monthly",
}
NAMED_TARGETS = (
    r"x86-64-v[234]|x86-64|skylake-avx512|skylake|cascadelake|icelake-server|icelake-client|sapphirerapids"
    r"|haswell|broadwell|znver[1-5]"
)
NOTES = {
    r"memory[\s-]*(?:bandwidth[\s-]*)?bound": "memory-bandwidth bound",
    r"compute[\s-]*bound": "compute bound",
    r"latency[\s-]*bound": "latency bound",
}
STATES = {
    "failed": r"fail(?:ed|ing|ure|ures)?",
    "running": r"running|in progress",
    "queued": r"queued|waiting|pending",
    "completed": r"completed?|finished|succeeded|successful|done",
    "cancelled": r"cancell?ed",
    "archived": r"archived",
    "draft": r"drafts?",
}


@dataclass(frozen=True)
class Question:
    """The question as typed (names keep their case) and as matched (lower case, straight quotes)."""

    raw: str
    text: str


def normalise(question: str) -> Question:
    """Fold case, curly quotes and odd Unicode so "What’s" and "WHAT'S" read the same."""
    raw = unicodedata.normalize("NFKC", question).translate(QUOTES).strip()
    return Question(raw, re.sub(r"\s+", " ", raw.lower()))


def has(text: str, pattern: str) -> bool:
    """Whether a keyword pattern occurs as whole words; patterns spell their own plurals (``blocks?``)."""
    return re.search(rf"\b(?:{pattern})\b", text) is not None


def quoted(question: Question) -> str | None:
    """A name in quotes; an apostrophe inside a word ("what's") never opens one."""
    match = re.search(r"(?:^|[\s(])[\"']([^\"']{1,120})[\"']", question.raw)
    return match[1].strip() if match else None


def codes(question: Question) -> list[str]:
    """Worksets' and profiles' codes (``<slug>-<8 hex>``) in the order they appear."""
    return re.findall(CODE, question.text)


# Words that end a workset's name typed without quotes: "why did workset GIAB trio QC fail?"
NAME_ENDS = frozenset(
    ["and", "or", "but", "is", "was", "are", "were", "has", "had", "do", "does", "did", "in", "on", "at"]
    + ["with", "fail", "fails", "failed", "failing", "running", "queued", "finished", "completed", "done"]
    + ["stuck", "still", "now", "currently", "already", "yet", "right", "today", "yesterday", "please"]
)


def _name_phrase_after(question: Question, keyword: str, *, words: int = 8) -> str | None:
    """The words after ``keyword`` up to punctuation or a word in NAME_ENDS (a name may have spaces);
    a code stands alone."""
    for match in re.finditer(
        rf"\b{keyword}s?\s+(?:named\s+|called\s+)?([A-Za-z0-9][^?!,;\n]*)", question.raw, re.I
    ):
        kept = []
        for word in match[1].split()[:words]:
            if word.lower().rstrip(".:") in NAME_ENDS:
                break
            kept.append(word)
        name = " ".join(kept).rstrip(".:-")
        if not name or kept[0].lower() in NOT_A_NAME:
            continue
        first = kept[0].rstrip(".:-")
        return first if re.fullmatch(CODE, first.lower()) else name
    return None


def workset(question: Question) -> str | None:
    """A workset named in quotes, after the word "workset" (up to where its name ends), or by its code;
    otherwise none."""
    found = quoted(question) or _name_phrase_after(question, "workset")
    if found:
        return found
    found_codes = codes(question)
    return found_codes[0] if found_codes else None


def profile_refs(question: Question) -> list[str]:
    """Profiles the question points at, in order: codes, and "latest" where it says the latest run."""
    refs = [(m.start(), m[0]) for m in re.finditer(CODE, question.text)]
    refs += [
        (m.start(), "latest") for m in re.finditer(r"\b(?:latest|last|newest|most recent)\b", question.text)
    ]
    return [ref for _, ref in sorted(refs)]


def address(question: Question) -> str | None:
    """A code address such as 0x401520, in lower case whatever case it was typed in."""
    match = re.search(ADDRESS, question.text)
    return match[0] if match else None


def function_name(question: Question) -> str | None:
    """An identifier after "function" or in backticks, in its own case: C++ names are case-sensitive."""
    match = re.search(r"\bfunction\s+`?([A-Za-z_][\w:~<>]*)", question.raw, re.I)
    if match and match[1].lower() not in NOT_A_NAME:
        return match[1]
    ticked = re.search(r"`([A-Za-z_][\w:~<>]*)`", question.raw)
    return ticked[1] if ticked else None


def number(text: str) -> int | None:
    """How many the question asks for: "three hottest", "top 5", "10 worksets"."""
    match = re.search(rf"\b(?:top|first|last)\s+{NUMBER}\b", text) or re.search(
        rf"\b{NUMBER}\s+(?:[a-z-]+\s+){{0,2}}?(?:[a-z]+est|functions?|blocks?|lines?|worksets?|hotspots?|"
        rf"files?|items?|rows?|results?)\b",
        text,
    )
    if not match:
        return None
    word = match[1]
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def group_by(text: str) -> list[str]:
    """Grouping keys in the order said: "each team", "per model", "by provider", "GPU type"."""
    found = []
    for key, words in GROUPS.items():
        match = re.search(rf"\b(?:each|per|by|every|across)\s+(?:{words})\b", text)
        if match is None and key in ("team", "model", "provider"):
            match = re.search(rf"\b{words[:-2]}s\b", text)
        if match:
            found.append((match.start(), key))
    return [key for _, key in sorted(found)]


def target(text: str) -> str | None:
    """The instruction set the user says the machine has: a named -march target, or AVX-512/AVX2 as the
    x86-64-v4/v3 baselines."""
    named = re.search(rf"\b(?:{NAMED_TARGETS})\b", text)
    if named:
        return named[0]
    if has(text, r"avx[\s-]?512\w*|zmm"):
        return "x86-64-v4"  # the AVX-512 baseline; the tools know -march targets, not ISA names
    return "x86-64-v3" if has(text, r"avx[\s-]?2|ymm") else None


def notes(text: str) -> tuple[str, ...]:
    """What the user says about the workload that no tool measures, for the answer to acknowledge."""
    return tuple(note for pattern, note in NOTES.items() if re.search(pattern, text))


def state(text: str) -> str | None:
    """A workset state used as a filter ("failed worksets", "which worksets are running")."""
    for name, words in STATES.items():
        if has(text, words):
            return name
    return None


def gpu_type(text: str) -> str | None:
    match = re.search(r"\b(a100|h100|h200|b200|l40s?|l4|t4|v100|a10g?|mi300x|mi250x?)s?\b", text)
    return match[1].upper() if match else None


def provider(text: str) -> str | None:
    match = re.search(
        r"\b(?:on|from|at|with|provider)\s+(aws|gcp|azure|coreweave|lambda|oci|on-prem)\b", text
    )
    return match[1] if match else None
