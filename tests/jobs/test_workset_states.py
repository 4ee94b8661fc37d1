"""The workset lifecycle through the services: every legal move, refusals of illegal ones, history kept."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import tenant_context

from jobs import services
from jobs.models import TRANSITIONS, IllegalTransition, State, Workset
from tenants.models import AuditEvent, BudgetAlert, Quota
from tests.builders import make_workset, workset_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_alpha(world):
    with tenant_context(world.tenant):
        yield world.tenant


def test_submission_goes_draft_validated_queued_with_actor_and_reason(world, in_alpha):
    workset = services.create_workset(in_alpha, workset_spec(), actor=world.bob, dry_run=True)
    steps = list(workset.transitions.values_list("from_state", "to_state", "actor", "reason"))
    assert steps == [
        ("", "draft", world.bob.pk, "Created"),
        ("draft", "validated", world.bob.pk, "Validation passed"),
        ("validated", "queued", world.bob.pk, "Submitted"),
    ]
    assert workset.state == State.QUEUED and workset.submitted_by == world.bob
    assert workset.reference_genome == "GRCh38" and workset.spec["priority"] == "normal"
    assert workset.estimate["basis"] == "from catalogue constants"
    assert AuditEvent.objects.filter(action="workset.submitted", target=workset.code).exists()


def test_submit_false_stops_at_validated(world, in_alpha):
    workset = services.create_workset(in_alpha, workset_spec(), actor=world.bob, submit=False, dry_run=True)
    assert workset.state == State.VALIDATED
    services.submit_workset(in_alpha, workset, actor=world.bob)
    assert Workset.objects.get(pk=workset.pk).state == State.QUEUED


def test_an_invalid_spec_is_refused_and_nothing_is_saved(world, in_alpha):
    before = Workset.objects.count()
    with pytest.raises(services.WorksetInvalid) as refused:
        services.create_workset(in_alpha, workset_spec(pipeline="nope"), actor=world.bob, dry_run=True)
    assert "pipeline" in refused.value.message_dict
    assert refused.value.message_dict["pipeline"][0].startswith("WS-CFG-002")
    assert Workset.objects.count() == before


@pytest.mark.parametrize("state", sorted(State.values))
def test_every_legal_transition_is_allowed_and_every_other_refused(world, in_alpha, state):
    if state in (State.DRAFT, State.VALIDATED, State.BILLING_HOLD):
        workset = services.create_workset(in_alpha, workset_spec(), actor=None, submit=False, dry_run=True)
        path = {State.DRAFT: [State.DRAFT], State.VALIDATED: [], State.BILLING_HOLD: [State.BILLING_HOLD]}[
            state
        ]
        for step in path:
            workset.transition_to(step)
    else:
        workset = make_workset(in_alpha, state=state)
    for target in State.values:
        copy = Workset.objects.get(pk=workset.pk)
        if target in TRANSITIONS[state]:
            with transaction_rolled_back():
                copy.transition_to(target, reason="legal")
                assert Workset.objects.get(pk=workset.pk).state == target
        else:
            with pytest.raises(IllegalTransition):
                copy.transition_to(target)
            assert Workset.objects.get(pk=workset.pk).state == state


class transaction_rolled_back:
    """Try a move and undo it, so the next target starts from the same state."""

    def __enter__(self):
        from django.db import transaction

        self.atomic = transaction.atomic()
        self.atomic.__enter__()

    def __exit__(self, *exc):
        from django.db import transaction

        transaction.set_rollback(True)
        self.atomic.__exit__(*exc)
        return False


def test_cancel_archive_restore(world, in_alpha):
    workset = make_workset(in_alpha, state="queued")
    services.cancel_workset(in_alpha, workset, actor=world.bob, reason="wrong samples")
    assert workset.state == State.CANCELLED
    assert workset.transitions.last().reason == "wrong samples"
    services.archive_workset(in_alpha, workset, actor=world.bob)
    assert Workset.objects.get(pk=workset.pk).archived_from == State.CANCELLED
    assert not Workset.objects.not_archived().filter(pk=workset.pk).exists()
    services.restore_workset(in_alpha, workset, actor=world.bob)
    stored = Workset.objects.get(pk=workset.pk)
    assert (stored.state, stored.archived_from) == (State.CANCELLED, "")
    to_states = list(stored.transitions.values_list("to_state", flat=True))
    assert to_states[-3:] == ["cancelled", "archived", "cancelled"]


@pytest.mark.parametrize("state", ["completed", "failed", "dead_letter", "archived"])
def test_cancelling_a_workset_past_its_run_is_refused(world, in_alpha, state):
    workset = make_workset(in_alpha, state=state)
    with pytest.raises(IllegalTransition):
        services.cancel_workset(in_alpha, workset, actor=world.bob)
    assert Workset.objects.get(pk=workset.pk).state == state


def test_restoring_what_is_not_archived_is_refused(world, in_alpha):
    workset = make_workset(in_alpha, state="completed")
    with pytest.raises(IllegalTransition):
        services.restore_workset(in_alpha, workset, actor=world.bob)


@pytest.mark.parametrize("state", ["failed", "dead_letter", "cancelled"])
def test_retry_clones_into_a_new_queued_workset(world, in_alpha, state):
    original = make_workset(in_alpha, state=state, samples=2)
    retry = services.retry_workset(in_alpha, original, actor=world.bob, dry_run=True)
    assert retry.pk != original.pk and retry.code != original.code
    assert (retry.attempt, retry.retry_of, retry.state) == (2, original, State.QUEUED)
    assert retry.spec == original.spec
    assert Workset.objects.get(pk=original.pk).state == state
    assert retry.transitions.first().reason == f"Retry of {original.code} (attempt 2)"
    again = services.retry_workset(in_alpha, original, actor=world.bob, dry_run=True)
    assert again.attempt == 2  # attempts count from the one retried


@pytest.mark.parametrize("state", ["queued", "running", "completed"])
def test_retry_is_only_for_failed_dead_lettered_or_cancelled(world, in_alpha, state):
    workset = make_workset(in_alpha, state=state)
    count = Workset.objects.count()
    with pytest.raises(IllegalTransition):
        services.retry_workset(in_alpha, workset, actor=world.bob, dry_run=True)
    assert Workset.objects.count() == count


def test_two_claims_of_one_transition_only_one_wins(world, in_alpha):
    """Two requests loaded the same queued workset; both cancel. The conditional update lets one through."""
    workset = make_workset(in_alpha, state="queued")
    first, second = Workset.objects.get(pk=workset.pk), Workset.objects.get(pk=workset.pk)
    services.cancel_workset(in_alpha, first, actor=world.bob)
    with pytest.raises(IllegalTransition) as lost:
        services.cancel_workset(in_alpha, second, actor=world.alice)
    assert lost.value.current == State.CANCELLED
    assert workset.transitions.filter(to_state=State.CANCELLED).count() == 1


def test_two_claims_racing_on_archive_and_cancel(world, in_alpha):
    workset = make_workset(in_alpha, state="failed")
    first, second = Workset.objects.get(pk=workset.pk), Workset.objects.get(pk=workset.pk)
    services.archive_workset(in_alpha, first, actor=world.bob)
    with pytest.raises(IllegalTransition):
        second.transition_to(State.DEAD_LETTER)
    assert Workset.objects.get(pk=workset.pk).state == State.ARCHIVED


def _hold(tenant, **changes):
    Quota.objects.filter(tenant=tenant).update(**changes)


def test_on_billing_hold_a_submission_waits_in_billing_hold(world, in_alpha):
    _hold(in_alpha, billing_hold=True)
    workset = services.create_workset(in_alpha, workset_spec(), actor=world.bob, dry_run=True)
    assert workset.state == State.BILLING_HOLD
    assert "billing hold" in workset.transitions.last().reason
    with pytest.raises(ValidationError):
        services.approve_workset(in_alpha, workset, actor=world.alice)
    _hold(in_alpha, billing_hold=False)
    services.approve_workset(in_alpha, workset, actor=world.alice)
    assert Workset.objects.get(pk=workset.pk).state == State.QUEUED


def test_when_the_budget_needs_approval_an_owner_approves(world, in_alpha):
    _hold(in_alpha, budget_action=Quota.BudgetAction.APPROVE)
    month = date.today().replace(day=1)
    BudgetAlert.objects.create(
        tenant=in_alpha, month=month, threshold=100, spent=Decimal(300), budget=Decimal(250)
    )
    workset = services.create_workset(in_alpha, workset_spec(), actor=world.bob, dry_run=True)
    assert workset.state == State.BILLING_HOLD
    with pytest.raises(PermissionDenied):
        services.approve_workset(in_alpha, workset, actor=world.bob)
    services.approve_workset(in_alpha, workset, actor=world.alice)
    stored = Workset.objects.get(pk=workset.pk)
    assert stored.state == State.QUEUED
    assert stored.transitions.last().actor == world.alice


def test_approving_what_is_not_held_is_refused(world, in_alpha):
    workset = make_workset(in_alpha, state="queued")
    with pytest.raises(IllegalTransition):
        services.approve_workset(in_alpha, workset, actor=world.alice)


def test_viewers_cannot_submit_or_move_worksets_even_through_the_service(world, in_alpha):
    with pytest.raises(PermissionDenied):
        services.create_workset(in_alpha, workset_spec(), actor=world.carol, dry_run=True)
    workset = make_workset(in_alpha, state="queued")
    with pytest.raises(PermissionDenied):
        services.cancel_workset(in_alpha, workset, actor=world.carol)
    with pytest.raises(PermissionDenied):
        services.cancel_workset(in_alpha, workset, actor=world.mallory)


def test_releasing_a_billing_hold_queues_what_it_held(world, in_alpha, django_capture_on_commit_callbacks):
    from tenants.services.budgets import release_billing_hold

    _hold(in_alpha, billing_hold=True)
    held = services.create_workset(in_alpha, workset_spec(), actor=world.bob, dry_run=True)
    with django_capture_on_commit_callbacks(execute=True):
        release_billing_hold(in_alpha, actor=world.operator)
    with tenant_context(in_alpha):
        stored = Workset.objects.get(pk=held.pk)
        assert stored.state == State.QUEUED
        assert stored.transitions.last().reason == "Billing hold released"
