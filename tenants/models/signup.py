"""Self-service sign-up on the public host: a request that becomes a tenant once the email is verified."""

import uuid

from django.db import models

from tenants.models.accounts import Tenant, User


class Signup(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Waiting for email verification"
        QUEUED = "queued", "Email verified, waiting to provision"
        PROVISIONING = "provisioning", "Creating the workspace"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    code = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    organisation = models.CharField(max_length=100)
    slug = models.SlugField(max_length=40)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signups")
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When provisioning last started.")
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.email}, {self.state})"
