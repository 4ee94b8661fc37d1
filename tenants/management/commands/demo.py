"""``runyard demo``: a working portal on one machine, with a real Celery worker, in one command.

With no DATABASE_URL the settings start an embedded PostgreSQL under RUNYARD_HOME; this process
holds it, its children (daphne, the Celery worker) connect to it through DATABASE_URL, and it
stops when this process exits. With no REDIS_URL the worker uses kombu's filesystem broker.
Ctrl-C or SIGTERM stops the children first, then the database.
"""

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import services
from tenants.models import Membership, Role, Tenant, User

TENANT_SLUG = "acme"
TENANT_NAME = "Acme Corp"
START_TIMEOUT_SECONDS = 60
PING_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class DemoUser:
    email: str
    description: str
    operator: bool = False


OWNER = DemoUser("alice@example.com", f"owner of {TENANT_SLUG}")
MEMBER = DemoUser("bob@example.com", f"member of {TENANT_SLUG}")
OPERATOR = DemoUser("admin@example.com", "operator (staff), for /admin/", operator=True)
DEMO_USERS = (OWNER, MEMBER, OPERATOR)


class StopRequested(Exception):
    """Raised by the signal handler, so whatever the command is waiting on unwinds to the cleanup."""


class Command(BaseCommand):
    help = "Run a demo: tenant acme with alice and bob, an operator, daphne and a Celery worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address daphne listens on.")
        parser.add_argument("--port", type=int, default=8000, help="Port daphne listens on.")

    def handle(self, *args, host: str, port: int, **options):
        install_stop_handlers()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # no log line per readiness probe
        children: dict[str, subprocess.Popen] = {}
        started = time.monotonic()
        try:
            check_port_free(host, port)
            credentials = self.prepare_data()
            children = start_children(host, port)
            wait_until_serving(children, local_url(host, port, "/healthz"))
            self.say(f"Worker OK: ping ran in schema {prove_worker(children)}")
            self.print_summary(port, credentials, time.monotonic() - started)
            supervise(children)
        except StopRequested as stop:
            self.say(f"\n{stop}: stopping the demo…")
        finally:
            ignore_stop_signals()
            stop_children(children)
            connections.close_all()
        self.say("Stopped.")

    def prepare_data(self) -> dict[str, str]:
        began = time.monotonic()
        services.setup_database(verbosity=0)
        credentials, fresh = load_or_create_credentials(credentials_path())
        for user in DEMO_USERS:
            ensure_signin_ready_user(user, credentials[user.email], reset_password=fresh)
        created = ensure_demo_tenant(credentials)
        ensure_demo_member()
        verb = "Created" if created else "Reusing"
        self.say(f"{verb} tenant {TENANT_SLUG}; database ready in {time.monotonic() - began:.1f}s.")
        self.seed_data()
        return credentials

    def seed_data(self) -> None:
        """acme's bucket, sample inputs, a month of usage and a budget (idempotent)."""
        from tenants.services.demo import seed_demo_data

        with tasks_inline():
            seed = seed_demo_data(Tenant.objects.get(slug=TENANT_SLUG), actor=None)
        self.say(
            f"Demo data: bucket {seed.bucket} with {seed.files_total} sample files under inputs/ "
            f"({seed.files_uploaded} uploaded now), {seed.days} days of usage."
        )
        self.seed_worksets()

    def seed_worksets(self) -> None:
        """A few worksets of acme in different states (jobs.demo; idempotent)."""
        from jobs.demo import DEMO_CLUSTER, DEMO_WORKSETS, QC_WORKSET, ensure_demo_cluster, seed_demo_worksets

        tenant = Tenant.objects.get(slug=TENANT_SLUG)
        with tasks_inline(), schema_context(tenant.schema_name):
            made = seed_demo_worksets(tenant)
        ensure_demo_cluster()
        self.say(
            f"Demo worksets: {len(DEMO_WORKSETS)} in different states and {QC_WORKSET.name!r} ready to "
            f"submit ({made} created now); cluster {DEMO_CLUSTER} runs them on this machine."
        )
        self.seed_profiles()

    def seed_profiles(self) -> None:
        """Two profiles of one program, before and after an optimisation (analysis.demo; idempotent)."""
        from analysis.demo import DEMO_PROFILES, seed_demo_profiles

        tenant = Tenant.objects.get(slug=TENANT_SLUG)
        with tasks_inline(), schema_context(tenant.schema_name):
            made = seed_demo_profiles()
        self.say(f"Demo profiles: {len(DEMO_PROFILES)} (before/after an optimisation; {made} created now).")
        self.seed_costs()

    def seed_costs(self) -> None:
        """Two weeks of GPU jobs of 3 teams and their rates, ending yesterday (analysis.demo; idempotent)."""
        from analysis.demo import seed_demo_costs

        tenant = Tenant.objects.get(slug=TENANT_SLUG)
        with tasks_inline(), schema_context(tenant.schema_name):
            made = seed_demo_costs(timezone.now().date())
        self.say(
            "Demo costs: 3 teams, 30 GPU jobs over two weeks ending yesterday "
            f"({'loaded now' if made else 'kept'})."
        )
        self.seed_knowledge()

    def seed_knowledge(self) -> None:
        """The diagnostics and pipeline catalogues as global knowledge-base documents (rebuilt in place)."""
        from chat.knowledge.services import index_catalogues

        indexed = ", ".join(f"{title} ({n} passages)" for title, n in index_catalogues().items())
        self.say(f"Knowledge base: {indexed}.")

    def print_summary(self, port: int, credentials: dict[str, str], took: float) -> None:
        base = settings.RUNYARD_BASE_DOMAIN
        width = max(len(user.email) for user in DEMO_USERS)
        lines = [
            f"\nRunyard demo is running (ready in {took:.1f}s).",
            f"  Portal:    http://{TENANT_SLUG}.{base}:{port}/",
            f"  Admin:     http://{base}:{port}/admin/",
            f"  API docs:  http://{TENANT_SLUG}.{base}:{port}/api/docs/",
            f"Credentials (kept in {credentials_path()}):",
            *(f"  {u.email:<{width}}  {credentials[u.email]}  {u.description}" for u in DEMO_USERS),
            "Press Ctrl-C to stop.",
        ]
        self.say("\n".join(lines))

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()


# --- Signals ---


def _raise_stop(signum, frame):
    raise StopRequested(f"Received {signal.Signals(signum).name}")


def install_stop_handlers() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stop)


def ignore_stop_signals() -> None:
    """While the children are being stopped, a second Ctrl-C must not cut the cleanup short."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


# --- Demo data ---


def credentials_path() -> Path:
    return Path(settings.RUNYARD_HOME) / "demo-credentials.json"


def load_or_create_credentials(path: Path) -> tuple[dict[str, str], bool]:
    """Passwords are generated once and reused, so every run prints the same ones."""
    if path.exists():
        stored = json.loads(path.read_text())
        if all(user.email in stored for user in DEMO_USERS):
            return stored, False
    credentials = {user.email: secrets.token_urlsafe(12) for user in DEMO_USERS}
    write_private_json(path, credentials)
    return credentials, True


def write_private_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2)
    partial.chmod(0o600)
    partial.replace(path)


def ensure_signin_ready_user(demo: DemoUser, password: str, *, reset_password: bool) -> User:
    """A user who can sign in at once: a password and a verified address (allauth requires one).

    Creating the user here, before ``add_member``, also keeps the invitation email out of the demo.
    """
    from allauth.account.models import EmailAddress

    with transaction.atomic():
        user, created = User.objects.get_or_create(email=demo.email)
        if created or reset_password:
            user.set_password(password)
        if demo.operator:
            user.is_staff = user.is_superuser = True
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email=demo.email, defaults={"verified": True, "primary": True}
        )
    return user


def ensure_demo_tenant(credentials: dict[str, str]) -> bool:
    """Onboard acme unless it exists; return whether it was created."""
    if Tenant.objects.customers().filter(slug=TENANT_SLUG).exists():
        return False
    services.onboard_tenant(
        TENANT_NAME, slug=TENANT_SLUG, owner_email=OWNER.email, owner_password=credentials[OWNER.email]
    )
    return True


@contextlib.contextmanager
def tasks_inline():
    """Seeding runs before the worker starts: the budget check each ledger record announces runs here,
    instead of queueing a couple of hundred messages the worker would have to wade through first."""
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


def ensure_demo_member() -> None:
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    if not Membership.objects.filter(tenant=tenant, user__email=MEMBER.email).exists():
        owner = User.objects.get(email=OWNER.email)
        services.add_member(tenant, MEMBER.email, Role.MEMBER, actor=owner)


# --- Child processes ---


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port} ({error.strerror}); try --port.") from None


def local_url(host: str, port: int, path: str) -> str:
    """Where this process reaches daphne: a wildcard address is reached on loopback."""
    wildcards = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104 - mapped, not bound
    host = wildcards.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}{path}"


def child_environment(port: int) -> dict[str, str]:
    """The children join this process's database (embedded or not) instead of starting their own."""
    os.environ["DATABASE_URL"] = settings.DATABASE_URL
    os.environ["RUNYARD_HOME"] = str(settings.RUNYARD_HOME)
    os.environ.setdefault("RUNYARD_PUBLIC_URL", f"http://{settings.RUNYARD_BASE_DOMAIN}:{port}")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return dict(os.environ)


def ensure_broker_folders() -> None:
    """kombu's filesystem transport and Celery's file result backend need their folders to exist."""
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    folders = [options.get(key) for key in ("data_folder_in", "data_folder_out", "processed_folder")]
    backend = settings.CELERY_RESULT_BACKEND or ""
    if backend.startswith("file://"):
        folders.append(backend.removeprefix("file://"))
    for folder in filter(None, folders):
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_commands(host: str, port: int) -> dict[str, list[str]]:
    schedule = Path(settings.RUNYARD_HOME) / "celerybeat-schedule"
    return {
        "daphne": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "portal.asgi:application"],
        "celery worker": [
            *(sys.executable, "-m", "celery", "-A", "portal", "worker", "-B", "--concurrency=2"),
            *("-s", str(schedule), "--loglevel=info"),
        ],
    }


def start_children(host: str, port: int) -> dict[str, subprocess.Popen]:
    """Each child gets its own process group: Ctrl-C reaches only us, and we stop them in order."""
    ensure_broker_folders()
    env = child_environment(port)
    children = {}
    for name, command in child_commands(host, port).items():
        children[name] = subprocess.Popen(command, env=env, process_group=0)
    return children


def check_children(children: dict[str, subprocess.Popen]) -> None:
    for name, process in children.items():
        code = process.poll()
        if code is not None:
            raise CommandError(f"{name} {describe_exit(code)} unexpectedly; stopped the demo.")


def describe_exit(code: int) -> str:
    return f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"


def wait_until_serving(children: dict[str, subprocess.Popen], url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        check_children(children)
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise CommandError(f"daphne did not answer {url} within {START_TIMEOUT_SECONDS}s.")


def prove_worker(children: dict[str, subprocess.Popen]) -> str:
    """Send tenants.ping_task from inside acme and wait for the worker's answer; return its schema."""
    from tenants.tasks import ping_task

    with schema_context(TENANT_SLUG):
        result = ping_task.delay()
    deadline = time.monotonic() + PING_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        check_children(children)
        try:
            answer = result.get(timeout=1, interval=0.2)
        except CeleryTimeoutError:
            continue
        if answer.get("schema") != TENANT_SLUG:
            raise CommandError(f"ping_task ran in schema {answer.get('schema')!r}, expected {TENANT_SLUG!r}.")
        return answer["schema"]
    raise CommandError(f"The Celery worker did not run tenants.ping_task within {PING_TIMEOUT_SECONDS}s.")


def supervise(children: dict[str, subprocess.Popen]) -> None:
    while True:
        check_children(children)
        time.sleep(0.5)


def stop_children(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to every child, up to STOP_TIMEOUT_SECONDS for all of them, then SIGKILL their groups."""
    for process in children.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process in children.values():
        try:
            process.wait(max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            kill_group(process)


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
