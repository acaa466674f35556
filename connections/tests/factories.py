import factory

from connections.models import SocialConnection
from crm.tests.factories import ClubFactory


class SocialConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SocialConnection
        skip_postgeneration_save = True

    club = factory.SubFactory(ClubFactory)
    tenant = factory.SelfAttribute("club.tenant")
    platform = "FACEBOOK"
    account_id = factory.Sequence(lambda n: f"{2000 + n}")
    account_name = factory.Sequence(lambda n: f"Club page {n}")
    account_type = "page"
    permissions = ["pages_manage_posts", "pages_read_engagement", "pages_show_list"]
    connected_by = "staff"

    @factory.post_generation
    def tokens(self, create, extracted, **kwargs):
        access, refresh = extracted or (f"plain-access-{self.account_id}", None)
        self.set_tokens(access_token=access, refresh_token=refresh)
        if create:
            self.save(update_fields=["access_token", "refresh_token"])
