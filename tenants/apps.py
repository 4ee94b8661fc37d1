from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants and accounts"

    def ready(self):
        from tenants import signals  # noqa: F401 - registers the receivers
