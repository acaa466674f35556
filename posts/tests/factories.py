import factory

from connections.tests.factories import SocialConnectionFactory
from posts.models import SocialPost


class SocialPostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialPost

    connection = factory.SubFactory(SocialConnectionFactory)
    tenant = factory.SelfAttribute("connection.tenant")
    content = factory.Sequence(lambda n: f"Course news number {n}")
    created_by = "staff"
