"""Retrying a workset from the chat: proposed, confirmed by a member, done once through the jobs service
(a new, validated workset; the failed one keeps its state); a viewer is refused; inputs that are gone are
said plainly and nothing is created."""

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from chat import assistant
from chat.tools import ToolContext
from jobs.models import Workset
from tenants.models import Membership
from tests.builders import make_workset

pytestmark = pytest.mark.django_db


def ask(world, question, user):
    with tenant_context(world.tenant):
        ctx = ToolContext(Membership.objects.of(user, world.tenant), user, world.tenant, date.today())
        return assistant.ask(question, ctx), ctx


def confirmed(world, reply, ctx):
    with tenant_context(world.tenant):
        return assistant.confirm(reply.pending[0], ctx)


def test_a_member_retries_a_failed_workset_after_confirming(world, bucket, inputs):
    failed = make_workset(world.tenant, state="failed", name="Chat retry me", samples=inputs)
    reply, ctx = ask(world, f"Please retry workset {failed.code}", world.bob)
    assert [held.call.tool for held in reply.pending] == ["retry_workset"] and not reply.lookups[0].result
    with tenant_context(world.tenant):
        assert not Workset.objects.filter(retry_of=failed).exists()  # nothing happens before the yes
    done = confirmed(world, reply, ctx)
    with tenant_context(world.tenant):
        retry = Workset.objects.get(retry_of=failed)
        failed.refresh_from_db()
    assert failed.state == "failed" and retry.attempt == failed.attempt + 1 and retry.state == "queued"
    assert f"is retried as `{retry.code}`" in done.answer.markdown


def test_a_viewer_is_refused_and_missing_inputs_are_said(world):
    failed = make_workset(world.tenant, state="failed", name="Chat retry gone")
    reply, ctx = ask(world, f"Retry workset {failed.code}", world.carol)
    refused = confirmed(world, reply, ctx)
    assert "retry_workset needs the member role or higher" in refused.answer.markdown
    reply, ctx = ask(world, f"Retry workset {failed.code}", world.bob)
    refused = confirmed(world, reply, ctx)
    assert "cannot be retried as it is" in refused.answer.markdown
    with tenant_context(world.tenant):
        assert not Workset.objects.filter(retry_of=failed).exists()
