from django.test import Client, override_settings

from portal.celery import app as celery_app


def test_healthz_answers_on_any_host(client):
    response = client.get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_each_dependency(client, db):
    response = client.get("/readyz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "channel_layer", "broker", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_reports_a_failing_broker_with_503(client, db):
    original = celery_app.conf.broker_url, celery_app.conf.broker_transport
    # nothing listens on port 1; without Redis the filesystem transport is configured, so unset it too
    celery_app.conf.broker_url, celery_app.conf.broker_transport = "redis://127.0.0.1:1/0", None
    try:
        response = client.get("/readyz", HTTP_HOST="localhost")
    finally:
        celery_app.conf.broker_url, celery_app.conf.broker_transport = original
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_checks_s3_with_its_latency(db, world, s3_server):
    response = Client().get("/readyz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["storage"]["ok"] is True
    assert body["checks"]["storage"]["latency_ms"] >= 0
    assert "slurm" not in body["checks"]  # no Slurm cluster is configured


def test_readyz_fails_with_503_when_s3_does_not_answer(db, world, s3_server):
    with override_settings(S3_ENDPOINT_URL="http://127.0.0.1:1"):
        response = Client().get("/readyz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["storage"]["ok"] is False and body["checks"]["storage"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_checks_slurm_when_a_slurm_cluster_is_enabled(db, world, tmp_path):
    from jobs.catalog.models import Cluster

    Cluster.objects.create(name="hpc-test", backend="slurm", region="eu-west-1", usd_per_vcpu_hour="0.05")
    with override_settings(SLURM_CONF=str(tmp_path / "missing-slurm.conf")):
        response = Client().get("/readyz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["slurm"]["ok"] is False and body["checks"]["slurm"]["error"]
    assert "latency_ms" in body["checks"]["slurm"]
