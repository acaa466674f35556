import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.tests.factories import ClubFactory
from promotions import services
from promotions.models import EventPromotion

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("create", ["special", "from_event"])
def test_every_new_promotion_needs_an_event_still_to_come(create):
    club = ClubFactory()
    past = timezone.now() - datetime.timedelta(minutes=5)
    fields = {"event_name": "Past Medal", "event_starts_at": past}
    with pytest.raises(services.EventAlreadyStarted):
        if create == "special":
            services.promotion_create_special(tenant=club.tenant, club=club, by="staff", **fields)
        else:
            services.promotion_create_from_event(tenant=club.tenant, club=club, source_type="COMPETITION",
                                                 source_id="comp-1", by="event:1", **fields)
    assert not EventPromotion.objects.exists()


@pytest.mark.parametrize("years_ahead, ok", [(4, True), (6, False)])
def test_the_event_time_range_follows_the_settings(settings, years_ahead, ok):
    settings.INPUT_HORIZON_YEARS = 5
    club = ClubFactory()
    starts = timezone.now() + datetime.timedelta(days=366 * years_ahead)
    create = lambda: services.promotion_create_special(  # noqa: E731
        tenant=club.tenant, club=club, by="staff", event_name="Far Medal", event_starts_at=starts)
    if ok:
        assert create().event_starts_at == starts
    else:
        with pytest.raises(ValidationError) as refused:
            create()
        assert "event_starts_at" in refused.value.message_dict
