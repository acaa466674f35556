import uuid

import factory
from django.core.files.base import ContentFile

from library.models import MediaAsset
from library.tests import images


class MediaAssetFactory(factory.django.DjangoModelFactory):
    """A library image stored as it would be after an upload (a small JPEG)."""

    class Meta:
        model = MediaAsset

    tenant = factory.SelfAttribute("club.tenant")
    club = factory.SubFactory("crm.tests.factories.ClubFactory")
    file = factory.LazyAttribute(lambda o: ContentFile(
        images.jpeg(640, 800), name=f"library/{o.tenant.pk}/{uuid.uuid4().hex}/photo.jpg"))
    original_name = "photo.jpg"
    width, height = 640, 800
    size = factory.LazyAttribute(lambda o: o.file.size)
    content_type = "image/jpeg"
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    alt_text = "A golfer putting on the 18th green"
