"""Self-service sign-up: register (user + pending signup + verification mail), verify the address, then
provision the workspace through the same ``onboard_tenant`` the operators use.

The verification link carries a signed signup code (django.core.signing), so nothing secret is stored.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tenants.models import Signup, User
from tenants.services.audit import record_event
from tenants.services.onboarding import onboard_tenant, validate_slug

log = logging.getLogger(__name__)

VERIFY_SALT = "runyard.signup.verify"
VERIFY_MAX_AGE = timedelta(days=3)
RESEND_AT_MOST = 100  # per sweep; the next sweep takes the rest


class InvalidSignupLink(ValidationError):
    """The verification link is expired, altered or points at no sign-up; the message says which."""


def register_signup(*, organisation: str, slug: str, email: str, password: str) -> Signup:
    """Create the user (no membership yet, address unverified) and a pending signup; mail the link."""
    organisation, email = (organisation or "").strip(), User.objects.normalize_email(email or "").lower()
    slug = _validate(organisation, slug, email, password)
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        _drop_stale_registration(email)
        user = User.objects.create_user(email, password, name=organisation[:150])
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
        signup = Signup.objects.create(email=email, organisation=organisation, slug=slug, user=user)
        record_event("signup.registered", actor=user, target=slug, email=email)
    send_verification_on_commit(signup)
    return signup


def verify_signup(token: str) -> Signup:
    """Mark the address verified and queue provisioning. A second click changes nothing."""
    from allauth.account.models import EmailAddress

    code = _code_from(token)
    with transaction.atomic():
        signup = Signup.objects.select_for_update().filter(code=code).first()
        if signup is None:
            raise InvalidSignupLink("This link does not belong to any sign-up.", code="unknown")
        if signup.state != Signup.State.PENDING:
            return signup
        EmailAddress.objects.filter(user=signup.user, email__iexact=signup.email).update(verified=True)
        signup.state, signup.verified_at = Signup.State.QUEUED, timezone.now()
        signup.save(update_fields=["state", "verified_at"])
        record_event("signup.verified", actor=signup.user, target=signup.slug)
        transaction.on_commit(lambda: _enqueue_provisioning(signup.code), robust=True)
    return signup


def provision_signup(code) -> Signup:
    """Onboard the workspace of a verified signup. Claimed by a conditional update, so a second run
    (or a second worker) finds nothing queued and does nothing. The workspace and the signup's ready state
    commit together: a run that dies half-way leaves no workspace, and ``resume_signups`` queues it again."""
    claimed = Signup.objects.filter(code=code, state=Signup.State.QUEUED).update(
        state=Signup.State.PROVISIONING, claimed_at=timezone.now()
    )
    signup = Signup.objects.select_related("user").get(code=code)
    if not claimed:
        return signup
    try:
        with transaction.atomic():
            tenant = onboard_tenant(
                signup.organisation, slug=signup.slug, owner_email=signup.email, actor=signup.user
            )
            signup.state, signup.tenant, signup.ready_at = Signup.State.READY, tenant, timezone.now()
            signup.save(update_fields=["state", "tenant", "ready_at"])
            record_event("signup.ready", actor=signup.user, tenant=tenant, target=signup.slug)
    except ValidationError as error:
        return _fail(signup, _readable(error))
    except Exception as error:
        return _fail(signup, _unexpected(error, code))
    return signup


def resume_signups() -> list[str]:
    """Beat, each minute (public schema): provision the verified signups a lost send left queued (the
    broker was away when the address was verified) and those whose provisioning died with its worker.

    A queued signup is sent again once it has waited ``RUNYARD_RESEND_WAITING_SECONDS``; a provisioning one
    is queued again once its claim is older than the task's hard time limit (the run holding it is surely
    gone, and being one transaction it left nothing behind). A second delivery finds it claimed."""
    from tenants.tasks import provision_signup_task

    now = timezone.now()
    stale = now - timedelta(seconds=provision_signup_task.time_limit + 60)
    retaken = []
    for code in Signup.objects.filter(state=Signup.State.PROVISIONING, claimed_at__lt=stale).values_list(
        "code", flat=True
    ):
        taken = Signup.objects.filter(code=code, state=Signup.State.PROVISIONING, claimed_at__lt=stale)
        if taken.update(state=Signup.State.QUEUED):
            log.warning("sign-up %s: its provisioning stopped half-way; queued again", code)
            retaken.append(code)
    waited = now - timedelta(seconds=settings.RUNYARD_RESEND_WAITING_SECONDS)
    waiting = Signup.objects.filter(
        Q(verified_at__lt=waited) | Q(code__in=retaken), state=Signup.State.QUEUED
    )
    sent = []
    for code in waiting.order_by("verified_at").values_list("code", flat=True)[:RESEND_AT_MOST]:
        _enqueue_provisioning(code)
        sent.append(str(code))
    return sent


def verification_token(signup: Signup) -> str:
    return signing.dumps({"signup": str(signup.code)}, salt=VERIFY_SALT)


# --- Validation ---


def _validate(organisation: str, slug: str, email: str, password: str) -> str:
    """Collect every field's error at once, so the form shows them all together."""
    errors: dict[str, list[str]] = {}
    checks = {
        "organisation": lambda: _check_organisation(organisation),
        "slug": lambda: _check_slug(slug),
        "email": lambda: _check_email(email),
        "password1": lambda: password_validation.validate_password(password, User(email=email)),
    }
    results = {}
    for field, check in checks.items():
        try:
            results[field] = check()
        except ValidationError as error:
            found = error.message_dict.get(field, []) if hasattr(error, "error_dict") else error.messages
            errors.setdefault(field, []).extend(found)
    if errors:
        raise ValidationError(errors)
    return results["slug"]


def _check_organisation(organisation: str) -> None:
    if not organisation:
        raise ValidationError("Enter your organisation's name.")
    if len(organisation) > Signup._meta.get_field("organisation").max_length:
        raise ValidationError("Use at most 100 characters.")


def _check_slug(slug: str) -> str:
    try:
        slug = validate_slug(slug)
    except ValidationError as error:
        raise ValidationError(
            [m.replace("A tenant", "A workspace") for m in error.message_dict["slug"]]
        ) from None
    if _live_signups().filter(slug=slug).exists():
        raise ValidationError(f"The address “{slug}” is already taken.")
    return slug


def _check_email(email: str) -> None:
    if not email or "@" not in email:
        raise ValidationError("Enter a valid email address.")
    if User.objects.filter(email__iexact=email).exclude(pk__in=_stale_users(email)).exists():
        raise ValidationError("An account with this email already exists. Sign in to your workspace instead.")


def _live_signups():
    """Signups that still hold their slug: not failed, and pending ones only while their link works."""
    fresh = timezone.now() - VERIFY_MAX_AGE
    return Signup.objects.exclude(state=Signup.State.FAILED).filter(
        ~Q(state=Signup.State.PENDING) | Q(created__gte=fresh)
    )


def _stale_users(email: str):
    """Users who belong nowhere and whose sign-ups all ended without a workspace: the link expired
    unverified, or provisioning failed. They may register again with the same address."""
    fresh = timezone.now() - VERIFY_MAX_AGE
    waiting = Signup.objects.filter(state=Signup.State.PENDING, created__gte=fresh).values("user")
    live = [Signup.State.QUEUED, Signup.State.PROVISIONING, Signup.State.READY]
    return (
        User.objects.filter(email__iexact=email, is_staff=False, memberships__isnull=True)
        .filter(signups__state__in=[Signup.State.PENDING, Signup.State.FAILED])
        .exclude(pk__in=waiting)
        .exclude(signups__state__in=live)
        .values("pk")
    )


def _drop_stale_registration(email: str) -> None:
    """Someone whose link expired, or whose workspace could not be made, may register again."""
    User.objects.filter(pk__in=_stale_users(email)).delete()


# --- Verification link and provisioning ---


def _code_from(token: str) -> str:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidSignupLink(
            "This verification link has expired (links work for 3 days). Sign up again.", code="expired"
        ) from None
    except signing.BadSignature:
        raise InvalidSignupLink(
            "This verification link is not valid. Copy the whole link from the email.", code="invalid"
        ) from None
    if not isinstance(data, dict) or "signup" not in data:
        raise InvalidSignupLink("This verification link is not valid.", code="invalid")
    return data["signup"]


def send_verification_on_commit(signup: Signup) -> None:
    def send():
        path = reverse(
            "signup_verify",
            urlconf=settings.PUBLIC_SCHEMA_URLCONF,
            kwargs={"token": verification_token(signup)},
        )
        context = {
            "signup": signup,
            "url": f"{settings.RUNYARD_PUBLIC_URL}{path}",
            "days": VERIFY_MAX_AGE.days,
        }
        send_mail(
            render_to_string("tenants/email/signup_verify_subject.txt", context).strip(),
            render_to_string("tenants/email/signup_verify_body.txt", context),
            None,
            [signup.email],
        )

    transaction.on_commit(send)


def _enqueue_provisioning(code) -> None:
    from tenants.tasks import provision_signup_task

    provision_signup_task.delay(str(code))


def _fail(signup: Signup, message: str) -> Signup:
    with transaction.atomic():
        signup.state, signup.error = Signup.State.FAILED, message
        signup.save(update_fields=["state", "error"])
        record_event("signup.failed", actor=signup.user, target=signup.slug, error=message)
    return signup


def _unexpected(error: Exception, code) -> str:
    """Storage errors carry a message fit for users; anything else is ours to look into."""
    from tenants.storage import StorageError

    if isinstance(error, StorageError):
        return str(error) or "The storage service refused to create the bucket."
    log.exception("Provisioning signup %s failed", code)
    return "Something went wrong on our side while creating the workspace; an operator will look into it."


def _readable(error: ValidationError) -> str:
    groups = error.message_dict.values() if hasattr(error, "error_dict") else [error.messages]
    return " ".join(message for group in groups for message in group)
