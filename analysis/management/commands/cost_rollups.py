"""``runyard cost_rollups --rebuild [--tenant SLUG]``: recompute the cost rollups from the stored jobs and
rates (``analysis.rollups.rebuild_rollups``), for one tenant or every one; the repair path when the
incrementally maintained table is suspected wrong."""

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from analysis.rollups import rebuild_rollups
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Rebuild the daily cost rollups of one tenant (--tenant) or all, from GPU jobs and rates."

    def add_arguments(self, parser):
        parser.add_argument("--rebuild", action="store_true", help="Recompute every rollup row.")
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant).")

    def handle(self, *args, rebuild, tenant, **options):
        if not rebuild:
            raise CommandError("Say what to do: --rebuild.")
        tenants = Tenant.objects.customers()
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant {tenant!r}.")
        for each in tenants.order_by("slug"):
            with tenant_context(each):
                rows = rebuild_rollups()
            self.stdout.write(f"{each.slug}: {rows} rollup rows rebuilt")
