from django.core.management.base import BaseCommand

from tenants.services import setup_database


class Command(BaseCommand):
    help = "Migrate the public and every tenant schema, and rebuild the tenant template if it is stale."

    def handle(self, *args, **options):
        setup_database(verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS("Database ready."))
