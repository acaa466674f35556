import datetime

import factory
from django.contrib.auth import get_user_model

from crm.models import Campaign, Club, Member, MessageTemplate, Segment, StaffMembership, StaffRole, Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    id = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.Sequence(lambda n: f"Golf Group {n}")


class ClubFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Club

    id = factory.Sequence(lambda n: f"club-{n}")
    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Club {n}")
    timezone = "Europe/London"
    latitude = 51.5
    longitude = -0.1
    default_send_time = datetime.time(9, 0)


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    tenant = factory.SelfAttribute("club.tenant")
    club = factory.SubFactory(ClubFactory)
    first_name = factory.Sequence(lambda n: f"Member{n}")
    last_name = "Golfer"
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    phone = factory.Sequence(lambda n: f"+4479111{n % 100000:05d}")
    latitude = factory.SelfAttribute("club.latitude")
    longitude = factory.SelfAttribute("club.longitude")
    email_consent = True
    sms_consent = True


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Campaign {n}")


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    channel = "EMAIL"
    subject = "{{ event_name }}"
    body = "Hello {{ first_name }}, {{ event_name }} starts {{ event_starts_local }}."


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    password = factory.django.Password("pass1234")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = StaffRole.STAFF

    @factory.post_generation
    def clubs(self, create, extracted, **kwargs):
        if create and extracted:
            self.clubs.set(extracted)
