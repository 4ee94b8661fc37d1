"""Builders of the knowledge-base tests: documents added through the service, in a tenant or globally."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from chat.knowledge.services import add_document

RUNBOOK = """# Restoring a bucket

Acme's own procedure for a bucket that lost objects.

## Restore from versioning

List the object versions with the zebra-tool, then copy the last good version of each key back.

## Check

Compare the object counts before and after.
"""


def add_tenant_document(tenant, *, title="", filename="runbook.md", text=RUNBOOK, actor=None):
    with tenant_context(tenant):
        return add_document(title=title, filename=filename, data=text.encode(), actor=actor)


def add_global_document(*, title="", filename="global.md", text="# Global\n\nShared.", actor=None):
    with schema_context(get_public_schema_name()):
        return add_document(title=title, filename=filename, data=text.encode(), actor=actor)


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.fixture
def runbook(world):
    return add_tenant_document(world.tenant, title="Bucket restore runbook", actor=world.alice)
