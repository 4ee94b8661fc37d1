from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants import services
from tenants.models import Tenant, User


class Command(BaseCommand):
    help = "Create an API token and print it once. Without --tenant: an operator token for the public host."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--tenant", help="Tenant slug the token is bound to.")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--expires-days", type=int)

    def handle(self, *args, email, tenant, name, expires_days, **options):
        user = User.objects.filter(email=email.lower()).first()
        if user is None:
            raise CommandError(f"No user {email!r}.")
        bound = Tenant.objects.customers().filter(slug=tenant).first() if tenant else None
        if tenant and bound is None:
            raise CommandError(f"No tenant {tenant!r}.")
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            _, key = services.create_api_token(user=user, tenant=bound, name=name, expires_at=expires_at)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(key)
