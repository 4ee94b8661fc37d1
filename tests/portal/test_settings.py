"""Settings read the environment once, with typed readers that stop the process on a bad value."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command


def _load_settings(**env) -> subprocess.CompletedProcess:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be a boolean"),
        ({"EMAIL_PORT": "twenty-five"}, "EMAIL_PORT must be an integer"),
        ({"RUNYARD_ENV": "staging"}, "RUNYARD_ENV must be one of"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "DATABASE_URL must be a URL with scheme postgres"),
        ({"REDIS_URL": "http://localhost"}, "REDIS_URL must be a URL with scheme redis"),
        ({"RUNYARD_ENV": "production", "SECRET_KEY": ""}, "SECRET_KEY must be set"),
    ],
)
def test_bad_configuration_stops_the_process_with_a_clear_message(env, message):
    result = _load_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_runyard_command_is_manage_py_with_settings_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        ["runyard", "check"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_migrations_match_the_models(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize("urlconf", ["portal.urls", "portal.urls_public"])
def test_the_openapi_schema_is_valid_and_complete(urlconf, tmp_path, db):
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--urlconf",
        urlconf,
        "--file",
        str(tmp_path / "schema.yaml"),
    )
    assert "/api/v1/" in (tmp_path / "schema.yaml").read_text()
