"""A real single-node Slurm for the tests, started once per session (registered in tests/conftest.py).

Request ``slurm_cluster`` (session scope): it runs ``tests/slurm/slurm-up.sh`` under a fresh directory, yields
the path of that cluster's ``slurm.conf`` and overrides ``settings.SLURM_CONF`` with it for the session, so
``backend_for("slurm")`` / ``SlurmBackend()`` submit to it; ``slurm-down.sh`` stops it at the end. Run Slurm's
commands yourself with ``SLURM_CONF=<that path>`` in their environment. The jobs run as root on this machine,
sharing its filesystem, so any run directory works.

Without ``sbatch`` the tests that use it are skipped ("install slurm-wlm and munge"), except under CI (the
``CI`` environment variable set), where that is a failure.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "slurm"


@pytest.fixture(scope="session")
def slurm_cluster():
    from django.test import override_settings

    if shutil.which("sbatch") is None:
        message = "install slurm-wlm and munge (apt-get install slurm-wlm munge) to run the Slurm tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="runyard-slurm-"))  # not pytest's rotating tmp: it outlives others
    try:
        started = subprocess.run(
            [SCRIPTS / "slurm-up.sh", base, str(os.getpid())],  # killed before teardown: it stops itself
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if started.returncode != 0:
            pytest.fail(f"slurm-up.sh failed:\n{started.stdout}{started.stderr}")
        conf = started.stdout.strip().splitlines()[-1]
        with override_settings(SLURM_CONF=conf):
            yield conf
    finally:
        subprocess.run([SCRIPTS / "slurm-down.sh", base], capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)
