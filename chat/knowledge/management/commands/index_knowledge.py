"""``runyard index_knowledge``: (re)build the knowledge base's global catalogue documents."""

from django.core.management.base import BaseCommand

from chat.knowledge.services import index_catalogues


class Command(BaseCommand):
    help = "Index the diagnostics and pipeline catalogues as global knowledge-base documents (idempotent)."

    def handle(self, *args, **options):
        for title, chunks in index_catalogues().items():
            self.stdout.write(f"{title}: {chunks} passages")
