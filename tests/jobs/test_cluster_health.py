"""The cluster health check: every enabled cluster's backend is checked and timed, and its health recorded."""

import re
import stat
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from jobs.backends.local import LocalBackend
from jobs.catalog.models import Cluster
from jobs.catalog.services import check_cluster
from jobs.catalog.tasks import check_clusters_task

pytestmark = pytest.mark.django_db


def cluster(name: str, backend: str = "local", **fields) -> Cluster:
    return Cluster.objects.create(
        name=name, backend=backend, region="us-east-1", usd_per_vcpu_hour="0.04", **fields
    )


def slow_python(tmp_path, seconds: float) -> str:
    """A real interpreter that takes ``seconds`` to start: the check's latency without faking the clock."""
    script = tmp_path / "slow-python"
    script.write_text(f'#!/bin/sh\nsleep {seconds}\nexec python3 "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_the_periodic_check_marks_a_working_local_cluster_healthy():
    local = cluster("local-a")
    off = cluster("local-off", enabled=False)
    assert check_clusters_task.delay().get() == {"local-a": "healthy"}
    local.refresh_from_db()
    assert local.health == Cluster.Health.HEALTHY and local.failed_checks == 0
    assert local.health_checked_at is not None and 0 <= local.health_latency_ms <= 500
    off.refresh_from_db()
    assert off.health == Cluster.Health.UNKNOWN and off.health_checked_at is None
    assert settings.CELERY_BEAT_SCHEDULE["check-clusters"]["task"] == "jobs.check_clusters_task"


def test_a_check_slower_than_500_ms_marks_the_cluster_degraded(tmp_path):
    slow = check_cluster(cluster("slow"), backend=LocalBackend(tmp_path, python=slow_python(tmp_path, 0.6)))
    assert slow.health == Cluster.Health.DEGRADED and slow.health_latency_ms >= 500
    assert slow.failed_checks == 0


def test_three_failed_checks_in_a_row_mark_it_unhealthy_and_one_success_recovers(tmp_path):
    broken = LocalBackend(tmp_path, python=str(tmp_path / "no-such-python"))
    target = cluster("flaky")
    healths = [check_cluster(target, backend=broken).health for _ in range(3)]
    assert healths == ["degraded", "degraded", "unhealthy"]
    assert target.failed_checks == 3 and "cannot start a step" in target.health_message
    assert target.health_latency_ms is None
    recovered = check_cluster(target, backend=LocalBackend(tmp_path))
    assert recovered.health == Cluster.Health.HEALTHY and recovered.failed_checks == 0
    assert recovered.health_message == ""


@pytest.mark.slurm
def test_a_slurm_cluster_is_healthy_while_its_controller_and_node_answer(slurm_cluster):
    slurm = cluster("slurm-west", backend="slurm")  # the settings' SLURM_CONF: the test cluster
    assert check_clusters_task.delay().get() == {"slurm-west": "healthy"}
    slurm.refresh_from_db()
    assert slurm.health == Cluster.Health.HEALTHY and slurm.health_latency_ms <= 500


@pytest.mark.slurm
def test_a_slurm_cluster_whose_controller_is_down_becomes_unhealthy(slurm_cluster, tmp_path):
    stopped = tmp_path / "slurm.conf"  # the test cluster's configuration, with no controller on its port
    stopped.write_text(re.sub(r"(?m)^SlurmctldPort=\d+$", "SlurmctldPort=9", Path(slurm_cluster).read_text()))
    slurm = cluster("slurm-east", backend="slurm")
    with override_settings(SLURM_CONF=str(stopped)):
        for _ in range(3):
            check_clusters_task.delay().get()
    slurm.refresh_from_db()
    assert slurm.health == Cluster.Health.UNHEALTHY
    assert "the Slurm controller does not answer" in slurm.health_message


def test_operators_see_cluster_health_in_the_admin(operator_client):
    check_cluster(cluster("local-b"))
    page = operator_client.get("/admin/catalog/cluster/").content.decode()
    assert "local-b" in page and "healthy" in page
