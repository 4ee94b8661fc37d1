"""``runyard dispatch``: run the dispatcher by hand, to operate or debug it.

The same ``jobs.dispatch.dispatch()`` as ``jobs.dispatch_task`` (several may run at once), in the public
schema; it prints one line per workset it placed, held or requeued, and one per workset that waits, with why.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_tenants.utils import schema_context

from jobs.dispatch import Report, dispatch


class Command(BaseCommand):
    help = "Place queued worksets of every tenant on clusters, and say why the others wait."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One run, then exit (default: repeat).")
        parser.add_argument("--limit", type=int, default=200, help="Decisions per run at most (200).")
        parser.add_argument(
            "--interval",
            type=float,
            default=float(settings.RUNYARD_DISPATCH_SECONDS),
            help="Seconds between runs without --once (RUNYARD_DISPATCH_SECONDS).",
        )

    def handle(self, *args, once, limit, interval, **options):
        while True:
            with schema_context("public"):
                self.show(dispatch(limit=max(limit, 1)))
            if once:
                return
            close_old_connections()  # a long-lived loop must not keep a connection the server dropped
            try:
                time.sleep(max(interval, 0.1))
            except KeyboardInterrupt:
                return

    def show(self, report: Report) -> None:
        for schema, code in report.requeued:
            self.stdout.write(f"requeued {schema}/{code}")
        for schema, code, cluster in report.placed:
            self.stdout.write(self.style.SUCCESS(f"placed   {schema}/{code} on {cluster}"))
        for schema, code in report.held:
            self.stdout.write(f"held     {schema}/{code}: the tenant's monthly budget is spent")
        for workset, reason in report.waiting.items():
            self.stdout.write(f"waits    {'every workset' if workset == '*' else workset}: {reason}")
        self.stdout.write(
            f"{len(report.placed)} placed, {len(report.held)} held, {len(report.requeued)} requeued, "
            f"{len(report.waiting)} waiting"
        )
