import pytest

from tenants.models import Bucket


@pytest.fixture
def alice(api_for, world):
    """The owner's API client on alpha's host."""
    return api_for(world.alice)


@pytest.fixture
def bucket(world) -> Bucket:
    """Alpha's bucket on the test S3 server."""
    return Bucket.objects.get(tenant=world.tenant)
