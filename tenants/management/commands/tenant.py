import time

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants import services
from tenants.models import Tenant, User
from tenants.schema_template import refresh_template


class Command(BaseCommand):
    help = "Manage tenants: create, suspend, activate, delete, list, refresh-template."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Onboard a tenant with its schema, domain and owner.")
        create.add_argument("slug")
        create.add_argument("--name", required=True)
        create.add_argument("--owner", required=True, help="Owner's email; a new user gets a password email.")
        create.add_argument("--owner-password", help="Set the owner's password instead of emailing a link.")
        create.add_argument(
            "--bucket", help="Use this existing bucket (bring your own) instead of a new one."
        )
        create.add_argument("--cost-center", default="", help="Tag the bucket with CostCenter=<value>.")
        for action in ("suspend", "activate"):
            sub.add_parser(action).add_argument("slug")
        delete = sub.add_parser("delete", help="Delete a tenant and its schema; its bucket is kept.")
        delete.add_argument("slug")
        delete.add_argument(
            "--delete-bucket", action="store_true", help="Also delete its bucket (managed buckets only)."
        )
        sub.add_parser("list")
        sub.add_parser("refresh-template", help="Rebuild the empty template schema new tenants clone.")

    def handle(self, *args, action, **options):
        try:
            getattr(self, "_" + action.replace("-", "_"))(**options)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error

    def _create(self, slug, name, owner, owner_password, bucket=None, cost_center="", **_):
        started = time.perf_counter()
        if owner_password is not None:  # the same password policy as sign-up and password changes
            password_validation.validate_password(owner_password, User(email=owner))
        tenant = services.onboard_tenant(
            name,
            slug=slug,
            owner_email=owner,
            owner_password=owner_password,
            bucket=bucket,
            cost_center=cost_center,
        )
        took = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {tenant.slug} at http://{services.tenant_address(tenant.slug)}/ in {took:.2f}s"
            )
        )

    def _suspend(self, slug, **_):
        services.set_tenant_status(self._tenant(slug), Tenant.Status.SUSPENDED, actor=None)
        self.stdout.write(f"{slug} suspended.")

    def _activate(self, slug, **_):
        services.set_tenant_status(self._tenant(slug), Tenant.Status.ACTIVE, actor=None)
        self.stdout.write(f"{slug} activated.")

    def _delete(self, slug, delete_bucket=False, **_):
        tenant = self._tenant(slug)
        bucket = getattr(tenant, "bucket", None)
        services.delete_tenant(tenant, actor=None, delete_bucket=delete_bucket)
        if bucket is None:
            self.stdout.write(f"{slug} deleted (it had no bucket).")
        else:
            self.stdout.write(
                f"{slug} deleted; bucket {bucket.name} {'deleted' if delete_bucket else 'kept'}."
            )

    def _list(self, **_):
        for tenant in Tenant.objects.customers():
            self.stdout.write(f"{tenant.slug}\t{tenant.status}\t{tenant.name}")

    def _refresh_template(self, **_):
        refresh_template()
        self.stdout.write("Template schema rebuilt.")

    @staticmethod
    def _tenant(slug) -> Tenant:
        try:
            return Tenant.objects.customers().get(slug=slug)
        except Tenant.DoesNotExist:
            raise CommandError(f"No tenant {slug!r}.") from None
