"""Plain builders with explicit defaults, for tests and benches."""

from django.utils import timezone

PASSWORD = "correct-horse-battery-9"


def ensure_user(email: str, *, password: str = PASSWORD, **fields):
    from allauth.account.models import EmailAddress

    from tenants.models import User

    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, password, **fields)
    EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
    return user


def make_token(user, tenant, *, name: str = "test", expires_at=None) -> str:
    from tenants.services import create_api_token

    _, key = create_api_token(user=user, tenant=tenant, name=name, expires_at=expires_at)
    return key


def make_tenant(slug: str, *, owner_email: str | None = None, name: str | None = None):
    from tenants.services import onboard_tenant

    return onboard_tenant(
        name or slug.title(),
        slug=slug,
        owner_email=owner_email or f"owner@{slug}.example",
        owner_password=PASSWORD,
    )


def minutes_from_now(minutes: int):
    return timezone.now() + timezone.timedelta(minutes=minutes)
