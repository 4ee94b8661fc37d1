"""The chat page: every role sees it with its conversations; renaming and deleting are the owner's own;
another member's (or tenant's) conversation is a 404."""

import pytest
from django_tenants.utils import tenant_context

from chat import services
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def started(world, user, title="Queue check", *, tenant=None):
    with tenant_context(tenant or world.tenant):
        conversation = services.start_conversation(actor=user, title=title)
        conversation.messages.create(role=Message.Role.USER, content="How is the queue?")
        conversation.messages.create(role=Message.Role.ASSISTANT, content="**3** worksets are queued.")
        return conversation


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_every_role_sees_the_chat_page_with_its_own_conversations(world, client_for, who):
    user = getattr(world, who)
    other = world.bob if who == "alice" else world.alice
    mine, theirs = started(world, user, f"{who}'s question"), started(world, other, "not yours")
    page = client_for(user).get("/chat/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"{who}&#x27;s question" in body and "not yours" not in body
    assert 'href="/chat/"' in body and "ws/chat" not in body  # the script opens the socket, not the page
    opened = client_for(user).get(f"/chat/{mine.code}/")
    assert opened.status_code == 200
    assert "**3** worksets are queued." in opened.content.decode()  # stored messages, as JSON for the script
    assert client_for(user).get(f"/chat/{theirs.code}/").status_code == 404


def test_an_empty_chat_shows_what_can_be_asked(world, client_for):
    body = client_for(world.carol).get("/chat/").content.decode()
    assert "Ask Runyard" in body and "What did each team spend on GPUs last week?" in body


def test_renaming_keeps_a_valid_name_and_refuses_an_empty_one(world, client_for):
    conversation = started(world, world.bob)
    client = client_for(world.bob)
    response = client.post(f"/chat/{conversation.code}/rename", {"title": "  GPU spend  "})
    assert response.status_code == 302 and response["Location"] == f"/chat/{conversation.code}/"
    refused = client.post(f"/chat/{conversation.code}/rename", {"title": "   "}, follow=True)
    assert "Give the conversation a name." in refused.content.decode()
    with tenant_context(world.tenant):
        assert Conversation.objects.get(pk=conversation.pk).title == "GPU spend"


def test_deleting_removes_the_conversation_and_its_messages(world, client_for):
    conversation = started(world, world.bob)
    response = client_for(world.bob).post(f"/chat/{conversation.code}/delete")
    assert response.status_code == 302 and response["Location"] == "/chat/"
    with tenant_context(world.tenant):
        assert not Conversation.objects.filter(pk=conversation.pk).exists()
        assert not Message.objects.filter(conversation_id=conversation.pk).exists()


def test_nobody_else_renames_or_deletes_a_conversation(world, client_for):
    conversation = started(world, world.bob)
    for user, tenant in (
        (world.alice, world.tenant),
        (world.mallory, world.other),
        (world.mallory, world.tenant),
    ):
        client = client_for(user, tenant)
        assert client.post(f"/chat/{conversation.code}/rename", {"title": "mine now"}).status_code == 404
        assert client.post(f"/chat/{conversation.code}/delete").status_code == 404
    with tenant_context(world.tenant):
        assert Conversation.objects.get(pk=conversation.pk).title == "Queue check"


@pytest.mark.usefixtures("private_channel_layer", "consumer_connection")
def test_the_examples_name_the_tenants_own_workset_and_an_address_that_answers(
    world, client_for, api_for, django_capture_on_commit_callbacks
):
    """Clicking an example asks it: its workset code and address are alpha's, so each one answers."""
    import html
    import re

    from tests.builders import make_workset, parse_demo_profiles

    failed = make_workset(world.tenant, state="failed", name="Pages broken run")
    queued = make_workset(world.tenant, state="queued", name="Pages waiting run")
    with tenant_context(world.tenant), django_capture_on_commit_callbacks(execute=True):
        parse_demo_profiles("Pages", actor=world.alice)

    body = html.unescape(client_for(world.carol).get("/chat/").content.decode())
    assert f"What's the status of workset {failed.code}? Why did it fail?" in body
    assert f"Cancel workset {queued.code}" in body
    address = re.search(r"detailed instruction profile of function (0x[0-9a-f]+)\.", body)[1]
    assert address != "0x401520"
    question = f"Give me a detailed instruction profile of function {address}."
    reply = api_for(world.carol).post("/api/v1/chat/conversations/ask", {"text": question}, format="json")
    assert reply.status_code == 201, reply.content
    assert f"(contains {address})" in reply.json()["reply"]["content"]

    theirs = html.unescape(client_for(world.mallory, world.other).get("/chat/").content.decode())
    assert failed.code not in theirs and queued.code not in theirs and address not in theirs
    assert "What's the status of workset giab-batch-1a2b3c4d?" in theirs  # beta has none: the placeholder
