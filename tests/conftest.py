import pytest
from approval_workflow import services as approval_services
from approval_workflow import utils as approval_utils
from django.contrib.contenttypes.models import ContentType
from django.test import override_settings

from backend.demo.scenario import build_company, register_demo_models


@pytest.fixture(autouse=True)
def _token_checks_in_the_test_thread():
    """In-process requests check tokens in the test's thread, which sees its transaction.

    Real servers (tests/support/live_servers.py) check them on worker threads, as production.
    """
    with override_settings(API_TOKEN_CHECK_ON_WORKER_THREADS=False):
        yield


@pytest.fixture(autouse=True)
def _fresh_content_type_caches():
    """approval_workflow keeps ContentTypes in lru_caches that outlive a flushed test database."""
    approval_services._get_cached_content_type.cache_clear()
    approval_utils.ApprovalRepository._get_cached_content_type.cache_clear()
    ContentType.objects.clear_cache()
    yield
    approval_services._get_cached_content_type.cache_clear()
    approval_utils.ApprovalRepository._get_cached_content_type.cache_clear()


@pytest.fixture
def acme(db):
    """Company A with the seed's purchase workflow (2 reviewers, 2 budget managers, 2 executives)."""
    register_demo_models()
    return build_company("acme", display_name="Acme")


@pytest.fixture
def globex(db):
    """Company B, a second tenant with its own roles and workflow."""
    register_demo_models()
    return build_company("globex", display_name="Globex")
