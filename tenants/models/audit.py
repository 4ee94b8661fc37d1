"""The audit trail."""

from django.db import models

from tenants.models.accounts import Tenant, User


class AuditEventQuerySet(models.QuerySet):
    def of_tenant(self, tenant):
        return self.filter(tenant=tenant)

    def search(self, text: str):
        """Free text over what happened and to what, and who did it."""
        return self.filter(
            models.Q(action__icontains=text)
            | models.Q(target__icontains=text)
            | models.Q(actor__email__icontains=text)
        )


class AuditEvent(models.Model):
    """Who did what, where and when; written by every service mutation."""

    class Source(models.TextChoices):
        WEB = "web", "Web page"
        API = "api", "API"
        WEBSOCKET = "websocket", "Websocket"
        TASK = "task", "Background task"
        COMMAND = "command", "Command"

    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)
    source = models.CharField(max_length=20, choices=Source.choices, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name="IP address")
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["tenant", "-created"])]

    def __str__(self) -> str:
        return f"{self.created:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
