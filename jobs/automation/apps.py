from django.apps import AppConfig


class AutomationConfig(AppConfig):
    """Read-only connectors to customers' workload-automation engines (HCL Workload Automation / TWS)."""

    name = "jobs.automation"
    label = "automation"
    verbose_name = "Workload automation"
    default_auto_field = "django.db.models.BigAutoField"
