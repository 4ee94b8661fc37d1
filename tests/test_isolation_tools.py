"""The assistant's tools across tenants: every tool of the registry, called by mallory in beta with alpha's
identifiers (workset codes and names, profile codes, folders and file names, cost providers, job names…),
refuses or answers from beta's data only: no answer holds anything of alpha's that she did not type
herself, and nothing of alpha's changes (cancel and retry included).

The tools and their arguments are read from the registry, so a new tool is covered the day it is added;
a new argument must be listed as naming something (with alpha's value) or not.
"""

import json

import pytest
from django_tenants.utils import tenant_context

from chat.tools import REGISTRY, ToolContext, ToolError, call_tool
from tenants.models import Membership
from tests.isolation_targets import MARK, changed, fingerprint, made_alpha_things

# Arguments that name one of a tenant's things: the values that name alpha's (each is tried).
NAMING = {
    "workset": lambda t: [t.workset.code, t.workset.name],
    "profile": lambda t: [t.profile.code],
    "against": lambda t: [t.profile.code],
    "query": lambda t: [MARK, t.workset.name, "sheet"],
    "prefix": lambda t: [t.folder],
    "function": lambda t: ["main"],
    "provider": lambda t: [t.gpu_job.provider],
    "gpu_type": lambda t: [t.gpu_job.gpu_type],
    "job_id": lambda t: [t.gpu_job.job_id],
    "job": lambda t: [t.gpu_job.job_id.replace("-", "_")],
    "name": lambda t: [f"{MARK}*"],
    "workstation": lambda t: [MARK.upper()],
}
# Arguments that only shape the answer (a month, a limit, a grouping, a state to filter by…).
SHAPING = {"month", "limit", "by", "event", "state", "target", "group_by", "start", "end", "status", "since"}
SHAPING |= {"explain"}


def calls(things) -> list[tuple[str, dict]]:
    """(tool, arguments) for every tool: each naming argument with each of alpha's values in turn."""
    found = []
    for name, tool in sorted(REGISTRY.items()):
        values = {arg: NAMING[arg](things) for arg in tool.parameters.get("properties", {}) if arg in NAMING}
        first = {arg: choices[0] for arg, choices in values.items()}
        variants = [{**first, arg: value} for arg, choices in values.items() for value in choices[1:]]
        found += [(name, arguments) for arguments in (first, *variants)]
    return [(name, arguments) for name, arguments in found if _complete(name, arguments)]


def _complete(name: str, arguments: dict) -> bool:
    return set(REGISTRY[name].parameters.get("required", [])) <= arguments.keys()


def test_every_tool_argument_is_listed_as_naming_something_or_not():
    unlisted = {
        f"{name}.{arg}"
        for name, tool in REGISTRY.items()
        for arg in tool.parameters.get("properties", {})
        if arg not in NAMING and arg not in SHAPING
    }
    assert not unlisted, f"add them to NAMING (with alpha's value) or SHAPING: {unlisted}"


def answer(user, tenant, name: str, arguments: dict) -> str:
    """What the user reads: the answer's text, data and links, or the refusal."""
    with tenant_context(tenant):
        context = ToolContext(Membership.objects.of(user, tenant), user, tenant)
        try:
            result = call_tool(name, arguments, context)
        except ToolError as error:
            return error.message
    return json.dumps([result.text, result.data, result.links], default=str)


def leaks(text: str, arguments: dict, secrets: set[str]) -> set[str]:
    """Alpha's secrets in ``text`` that the caller did not type herself."""
    typed = json.dumps(arguments)
    return {secret for secret in secrets if secret in text and secret not in typed}


@pytest.fixture
def alpha_things(db, world):
    with made_alpha_things(world) as things:
        yield things


def test_mallorys_tools_with_alphas_identifiers_answer_nothing_of_alpha(world, alpha_things):
    planned = calls(alpha_things)
    assert {name for name, _ in planned} == set(REGISTRY)  # every tool is called
    before = fingerprint(world.tenant)
    leaked = {}
    for name, arguments in planned:
        found = leaks(answer(world.mallory, world.other, name, arguments), arguments, alpha_things.secrets)
        if found:
            leaked[f"{name}({arguments})"] = found
    assert not leaked
    assert changed(before, fingerprint(world.tenant)) == []  # cancel and retry included


def test_the_same_calls_by_alice_do_answer_with_alphas_things(world, alpha_things):
    """The control: alpha's identifiers are real, and the leak check sees what alice is shown."""
    seen = {
        name
        for name, arguments in calls(alpha_things)
        if REGISTRY[name].read_only
        and leaks(answer(world.alice, world.tenant, name, arguments), arguments, alpha_things.secrets)
    }
    worksets = {"workset_status", "workset_diagnosis", "estimate_workset", "list_worksets"}
    assert worksets | {"search_files", "search_knowledge", "cost_by", "budget_burn"} <= seen
