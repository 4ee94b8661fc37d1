import os
from io import StringIO


def test_me_returns_user_tenant_and_role(api_for, world):
    response = api_for(world.bob).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json() == {
        "user": {"email": "bob@example.com", "name": ""},
        "tenant": {
            "slug": "alpha",
            "name": "Alpha",
            "status": "active",
            "created": response.json()["tenant"]["created"],
            "host": "alpha.localhost",
        },
        "role": "member",
    }


def test_anonymous_api_call_gets_401_in_the_error_shape(client_for):
    response = client_for(None).get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_api_path_answers_404_in_the_error_shape(api_for, world):
    response = api_for(world.alice).get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_invalid_input_answers_400_with_field_messages(api_for, world):
    response = api_for(world.alice).post(
        "/api/v1/tokens", {"name": "", "expires_at": "yesterday"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"name", "expires_at"}


def test_openapi_schema_and_docs_are_served_to_members(client_for, world):
    client = client_for(world.carol)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/members"} <= set(paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


def test_token_list_is_cursor_paginated(api_for, world):
    client = api_for(world.bob)
    for n in range(3):
        client.post("/api/v1/tokens", {"name": f"t{n}"}, format="json")
    page = client.get("/api/v1/tokens?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 2  # 3 created here + the one the client authenticates with


def test_the_openapi_schema_generates_without_warnings():
    """A warning means a client generator gets a guessed type or a renamed operation: fix it at the source."""
    from django.core.management import call_command

    errors = StringIO()
    call_command("spectacular", "--fail-on-warn", "--file", os.devnull, stderr=errors)
    assert "Warning" not in errors.getvalue()
