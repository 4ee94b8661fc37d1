from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    """The knowledge base: in the public schema for operators' documents, in each tenant's for its own."""

    name = "chat.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge base"
    default_auto_field = "django.db.models.BigAutoField"
