"""``/api/v1/chat/conversations``: an integration asks with its token and gets the finished, stored answer;
it lists, reads, renames and deletes only its user's conversations; bad input is a 400 with the field."""

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from chat.models import Conversation, ToolCallRecord
from tests.builders import make_workset

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_channel_layer", "consumer_connection")]

ASK = "/api/v1/chat/conversations/ask"


def test_a_token_asks_and_gets_the_stored_answer_with_its_cards(world, api_for):
    workset = make_workset(world.tenant, state="queued", name="Chat API status")
    api = api_for(world.bob)
    response = api.post(ASK, {"text": f"What's the status of workset {workset.code}?"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    reply = body["reply"]
    assert reply["state"] == "done" and reply["provider"] == "analyst"
    assert workset.name in reply["content"] and "queued" in reply["content"]
    assert [card["tool"] for card in reply["lookups"]] == ["workset_status"]
    code = body["conversation"]["code"]
    follow_up = api.post(ASK, {"conversation": code, "text": "Is it still queued?"}, format="json").json()
    assert follow_up["conversation"]["code"] == code
    assert follow_up["reply"]["lookups"][0]["arguments"] == {"workset": workset.code}
    read = api.get(f"/api/v1/chat/conversations/{code}").json()
    assert [message["role"] for message in read["messages"]] == ["user", "assistant"] * 2
    assert read["messages"][1]["content"] == reply["content"]
    with tenant_context(world.tenant):
        assert ToolCallRecord.objects.filter(user=world.bob, tool="workset_status").count() == 2


def test_a_change_asked_over_the_api_is_only_proposed(world, api_for):
    workset = make_workset(world.tenant, state="queued", name="Chat API cancel")
    reply = (
        api_for(world.bob)
        .post(ASK, {"text": f"Cancel workset {workset.code}"}, format="json")
        .json()["reply"]
    )
    assert reply["pending"][0]["tool"] == "cancel_workset" and reply["pending"][0]["state"] == "waiting"
    with tenant_context(world.tenant):
        workset.refresh_from_db()
        assert workset.state == "queued"


def test_bad_questions_are_400s_with_the_field(world, api_for):
    api = api_for(world.carol)
    for body, field in (({"text": "  "}, "text"), ({"text": "x" * 4001}, "text"), ({}, "text")):
        response = api.post(ASK, body, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], body
    assert api.post(ASK, {"text": "hi", "conversation": "nope"}, format="json").status_code == 400
    assert api.post(ASK, ["not", "an", "object"], format="json").status_code == 400
    with tenant_context(world.tenant):
        assert not Conversation.objects.of(world.carol).exists()


@override_settings(RUNYARD_CHAT_MESSAGES_PER_MINUTE=1)
def test_one_question_too_many_is_a_429(world, api_for):
    api = api_for(world.carol)
    assert api.post(ASK, {"text": "How is the queue?"}, format="json").status_code == 201
    refused = api.post(ASK, {"text": "And now?"}, format="json")
    assert (
        refused.status_code == 429 and "1 questions in the last minute" in refused.json()["error"]["message"]
    )


def test_conversations_are_listed_renamed_and_deleted_by_their_owner_only(world, api_for):
    bob = api_for(world.bob)
    code = bob.post(ASK, {"text": "How is the queue?"}, format="json").json()["conversation"]["code"]
    assert code in [item["code"] for item in bob.get("/api/v1/chat/conversations").json()["results"]]
    renamed = bob.patch(f"/api/v1/chat/conversations/{code}", {"title": "Queue"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Queue"
    assert bob.patch(f"/api/v1/chat/conversations/{code}", {"title": " "}, format="json").status_code == 400
    for stranger in (api_for(world.alice), api_for(world.mallory, world.other)):
        assert code not in str(stranger.get("/api/v1/chat/conversations").json())
        assert stranger.get(f"/api/v1/chat/conversations/{code}").status_code == 404
        assert (
            stranger.patch(f"/api/v1/chat/conversations/{code}", {"title": "x"}, format="json").status_code
            == 404
        )
        assert stranger.delete(f"/api/v1/chat/conversations/{code}").status_code == 404
        asked = stranger.post(ASK, {"conversation": code, "text": "What did you say?"}, format="json")
        assert asked.status_code == 404
    assert bob.delete(f"/api/v1/chat/conversations/{code}").status_code == 204
    assert bob.get(f"/api/v1/chat/conversations/{code}").status_code == 404
