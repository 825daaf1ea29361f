"""Fixtures for the Zendesk sandbox's own tests."""
import pytest

from tests.helpers import zendesk_admin_session


@pytest.fixture
def api(zendesk):
    return zendesk_admin_session(zendesk)
