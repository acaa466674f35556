"""/api/v1/media/: upload, list, read, describe, remove when unused, scoped to the caller."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import ClubFactory, StaffFactory
from library.models import MediaAsset
from library.tests import images
from library.tests.factories import MediaAssetFactory
from posts.services import post_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(club):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=club.tenant).user)
    return client


def image(name="green.png", data=None):
    return SimpleUploadedFile(name, data if data is not None else images.png(300, 200, transparent=False))


def test_upload_stores_a_normalised_image_and_the_same_file_again_is_that_image(api, club, media_root):
    data = images.png(300, 200, transparent=False)
    response = api.post("/api/v1/media/", {"file": image(data=data), "club": club.pk, "alt_text": "The 1st tee"},
                        format="multipart")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/jpeg" and (body["width"], body["height"]) == (300, 200)
    assert body["alt_text"] == "The 1st tee" and body["usage_count"] == 0 and body["club"] == club.pk
    assert body["url"].startswith("http://127.0.0.1:9/media/library/") and body["url"].endswith(".jpg")
    again = api.post("/api/v1/media/", {"file": image("copy.png", data), "club": club.pk}, format="multipart")
    assert again.status_code == 200 and again.json()["id"] == body["id"]


@pytest.mark.parametrize("payload, field", [
    ({"file": SimpleUploadedFile("notes.txt", b"just words")}, "file"),
    ({}, "file"),
    ({"file": None, "alt_text": "x" * 1001}, "alt_text"),
])
def test_bad_uploads_are_a_400_naming_the_field(api, media_root, payload, field):
    if payload.get("file", 1) is None:
        payload["file"] = image()
    response = api.post("/api/v1/media/", payload, format="multipart")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not MediaAsset.objects.exists()


def test_another_tenants_club_is_not_found(api, media_root):
    response = api.post("/api/v1/media/", {"file": image(), "club": ClubFactory().pk}, format="multipart")
    assert response.status_code == 400 and "club" in response.json()["fields"]


def test_club_limited_staff_list_their_clubs_and_the_shared_images(club, media_root):
    other = ClubFactory(tenant=club.tenant)
    mine = MediaAssetFactory(club=club)
    shared = MediaAssetFactory(club=None, tenant=club.tenant)
    MediaAssetFactory(club=other)
    MediaAssetFactory()  # another tenant's
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=club.tenant, clubs=[club]).user)
    ids = {row["id"] for row in client.get("/api/v1/media/").json()["results"]}
    assert ids == {str(mine.pk), str(shared.pk)}


def test_the_description_is_updated_and_checked(api, club, media_root):
    asset = MediaAssetFactory(club=club)
    response = api.patch(f"/api/v1/media/{asset.pk}/", {"alt_text": "Clubhouse terrace in the sun"}, format="json")
    assert response.status_code == 200 and response.json()["alt_text"] == "Clubhouse terrace in the sun"
    too_long = api.patch(f"/api/v1/media/{asset.pk}/", {"alt_text": "y" * 1001}, format="json")
    assert too_long.status_code == 400 and "alt_text" in too_long.json()["fields"]
    asset.refresh_from_db()
    assert asset.alt_text == "Clubhouse terrace in the sun"


def test_an_image_in_use_is_a_409_and_an_unused_one_is_removed(api, club, media_root):
    used, unused = MediaAssetFactory(club=club), MediaAssetFactory(club=club)
    post_create(tenant=club.tenant, connection=SocialConnectionFactory(club=club), content="Open day",
                created_by="alex", media_urls=[used.url])
    refused = api.delete(f"/api/v1/media/{used.pk}/")
    assert refused.status_code == 409 and "used by 1 post" in refused.json()["detail"]
    assert api.get(f"/api/v1/media/{used.pk}/").json()["usage_count"] == 1
    assert api.delete(f"/api/v1/media/{unused.pk}/").status_code == 204
    assert set(MediaAsset.objects.values_list("pk", flat=True)) == {used.pk}


def test_the_schema_documents_the_media_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    upload = schema["paths"]["/api/v1/media/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"200", "201"} <= set(upload["responses"])
    assert "409" in schema["paths"]["/api/v1/media/{id}/"]["delete"]["responses"]
    fields = schema["components"]["schemas"]["MediaAsset"]["properties"]
    assert {"alt_text", "usage_count", "width", "height", "size", "content_type", "thumbnail_url"} <= set(fields)
