from portal.celery import app as celery_app


def test_healthz_answers_on_any_host(client):
    response = client.get("/healthz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_each_dependency(client, db):
    response = client.get("/readyz", HTTP_HOST="localhost")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_reports_a_failing_broker_with_503(client, db):
    original = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz", HTTP_HOST="localhost")
    finally:
        celery_app.conf.broker_url = original
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True
