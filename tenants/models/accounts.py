"""Tenants, their domains, users and memberships (public schema)."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin


class TenantQuerySet(models.QuerySet):
    def customers(self):
        from django_tenants.utils import get_public_schema_name

        return self.exclude(schema_name=get_public_schema_name())

    def active(self):
        return self.customers().filter(status=Tenant.Status.ACTIVE)


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def create_schema(self, *args, **kwargs):
        """The schema, then its own PostgreSQL role (tenants.database_roles)."""
        from tenants.database_roles import ensure_tenant_role

        created = super().create_schema(*args, **kwargs)
        ensure_tenant_role(self.schema_name)
        return created

    def delete(self, *args, **kwargs):
        from tenants.database_roles import drop_tenant_role

        deleted = super().delete(*args, **kwargs)  # drops the schema first (auto_drop_schema)
        drop_tenant_role(self.schema_name)
        return deleted

    def get_base_schema(self):
        """Clone from the template only while it matches the migrations; else migrate (slower)."""
        from tenants.schema_template import template_is_current

        base = super().get_base_schema()
        return base if base and template_is_current() else False


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Users live in the public schema; memberships say which tenants they may enter."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Operators: may use the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class Role(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: "Role") -> bool:
        return self.rank >= Role(other).rank


_ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class MembershipQuerySet(models.QuerySet):
    def visible_to(self, membership):
        return self.filter(tenant_id=membership.tenant_id)

    def of(self, user, tenant):
        if not getattr(user, "is_authenticated", False) or tenant is None:
            return None
        return self.filter(user=user, tenant=tenant).first()


class Membership(models.Model):
    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant")]
        ordering = ["tenant", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"

    def allows(self, role: str) -> bool:
        return Role(self.role).at_least(Role(role))
