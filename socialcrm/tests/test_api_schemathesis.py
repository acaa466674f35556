"""Schemathesis drives every documented API operation with generated valid and invalid input, as a
tenant admin with a token over seeded data, and runs all its checks: no 5xx, every status and body
as the schema documents it, bad input refused, good input accepted.

The budget here is small so the suite stays fast; `make fuzz` runs the same test with a large
budget (SCHEMATHESIS_MAX_EXAMPLES) and the stateful phase (test_api_stateful).
The events endpoint is signed by the tee-time system, not token-authenticated: it has its own tests.
"""

import json
import os
import random

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import CampaignFactory, ClubFactory, SegmentFactory, StaffFactory
from library.tests.factories import MediaAssetFactory
from notifications.services import notify_post_failed
from posts.compositions import composition_create
from posts.models import SocialPost
from posts.tests.factories import SocialPostFactory
from promotions.planning import promotion_plan
from promotions.tests.factories import EventPromotionFactory

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "6"))
EXCLUDED_PATHS = ["/api/v1/events/"]

# Schema-valid input may still be refused for what a schema cannot say (an id of another tenant, a time
# beyond the horizon, a post not in a state that allows the action), or throttled (the token endpoint
# allows a few attempts a minute, and repeated wrong passwords lock a login out): documented 4xx.
ACCEPTED_REFUSALS = ["2xx", "400", "401", "403", "404", "409", "429"]


@pytest.fixture
def wsgi_in_test_transaction():
    """Requests go through the real WSGI handler inside the test's transaction; like Django's test
    client, keep the handler from closing the connection at the end of each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(db, wsgi_in_test_transaction):
    club = ClubFactory(timezone="Europe/London")
    staff = StaffFactory(tenant=club.tenant, role="ADMIN")
    connection = SocialConnectionFactory(club=club, tenant=club.tenant)
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    promotion = EventPromotionFactory(club=club, source_type="SPECIAL")
    promotion_plan(promotion=promotion)
    ids = {
        "club": club.pk, "connection": str(connection.pk), "campaign": str(CampaignFactory(tenant=club.tenant).pk),
        "segment": str(SegmentFactory(club=club, tenant=club.tenant).pk) if hasattr(SegmentFactory, "club") else None,
        "post": [str(SocialPostFactory(connection=connection, status=status).pk)
                 for status in ("DRAFT", "DRAFT", "FAILED", "SCHEDULED")],
        "promotion": str(promotion.pk), "dispatch": [str(d.pk) for d in promotion.dispatches.all()],
        "media": [str(MediaAssetFactory(club=club).pk) for _ in range(3)],
        "composition": [str(composition_create(tenant=club.tenant, connections=[connection, x], content=text,
                                               by=staff.user).pk) for text in ("Course open", "Course closed")],
    }
    failed = SocialPost.objects.get(pk=ids["post"][2])
    ids["notification"] = str(notify_post_failed(post=failed).pk)  # the admin's own notification
    return {"token": Token.objects.create(user=staff.user).key, "ids": ids}


def load_schema():
    """The schema exactly as /api/schema/ serves it (generated without a request, so at collection time)."""
    from drf_spectacular.generators import SchemaGenerator

    raw = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(raw, default=str)))
    loaded.app = WSGIHandler()
    loaded.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED_REFUSALS
    if os.environ.get("SCHEMATHESIS_COVERAGE") != "1":  # the coverage phase's many fixed cases: `make fuzz` only
        loaded.config.phases.coverage.enabled = False
    return loaded.exclude(path=EXCLUDED_PATHS)


schema = load_schema()


def real_id(path, seeded):
    ids = seeded["ids"]
    for prefix, key in (("/api/v1/posts/", "post"), ("/api/v1/compositions/", "composition"), ("/api/v1/promotions/", "promotion"),
                        ("/api/v1/connections/", "connection"), ("/api/v1/dispatches/", "dispatch"),
                        ("/api/v1/campaigns/", "campaign"), ("/api/v1/media/", "media"),
                        ("/api/v1/notifications/", "notification")):
        if path.startswith(prefix):
            value = ids[key]
            return random.choice(value) if isinstance(value, list) else value
    return None


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_api(case, seeded):
    if case.path_parameters and "id" in case.path_parameters and random.random() < 0.5:
        case.path_parameters["id"] = real_id(case.operation.path, seeded) or case.path_parameters["id"]
    case.call_and_validate(base_url="http://testserver",
                           headers={"Authorization": f"Token {seeded['token']}"})


@pytest.mark.skipif(os.environ.get("SCHEMATHESIS_STATEFUL") != "1", reason="the stateful phase runs in `make fuzz`")
def test_api_stateful(seeded):
    """Sequences of calls that feed one response's ids into the next request (create, then read, change, delete)."""
    # Credentials through the config, so the ignored_auth check can still swap them for bad ones.
    schema.config.update(headers={"Authorization": f"Token {seeded['token']}"}, base_url="http://testserver")

    class Workflow(schema.as_state_machine()):
        pass

    Workflow.run(settings=settings(max_examples=MAX_EXAMPLES, deadline=None, stateful_step_count=8,
                                   suppress_health_check=list(HealthCheck)))
