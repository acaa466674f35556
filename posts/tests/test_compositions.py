"""One post written once with a version per network: services, content rules per version, previews, pages, API."""

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from connections.tests.factories import SocialConnectionFactory
from crm.middleware import SESSION_KEY as CLUB_SESSION_KEY
from crm.tests.factories import ClubFactory, StaffFactory
from library.models import MediaAsset, PostMedia
from library.selectors import alt_texts_for
from library.services import media_upload
from library.tests import images
from platforms import PostContent
from posts import compositions, services
from posts.models import Composition, SocialPost
from posts.models import SocialPostStatus as S
from posts.previews import fold_text, post_preview, version_preview
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db

IMAGE = "https://cdn.example.com/flag.jpg"


@pytest.fixture
def accounts(club):
    return {
        "fb": SocialConnectionFactory(club=club, tenant=club.tenant, platform="FACEBOOK", account_name="Pinewood page"),
        "x": SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER", account_name="Pinewood X"),
        "ig": SocialConnectionFactory(club=club, tenant=club.tenant, platform="INSTAGRAM", account_name="pinewood.golf"),
    }


def versions_of(composition):
    return {p.connection.platform: p for p in composition.versions.select_related("connection")}


def make(accounts, which=("fb", "x"), *, content="Club champs this weekend", overrides=None, **kwargs):
    return compositions.composition_create(
        tenant=accounts["fb"].tenant, connections=[accounts[k] for k in which], content=content,
        overrides={str(accounts[k].pk): v for k, v in (overrides or {}).items()}, by="pat", **kwargs)


# ----------------------------------------------------------------------------- services


def test_each_network_gets_its_own_version_and_the_overridden_fields_are_recorded(accounts):
    composition = make(accounts, overrides={"x": {"content": "Champs this weekend! Short for X"}},
                       hashtags=["golf"])
    versions = versions_of(composition)
    assert versions["FACEBOOK"].content == "Club champs this weekend" and versions["FACEBOOK"].overridden_fields == []
    assert versions["TWITTER"].content == "Champs this weekend! Short for X"
    assert versions["TWITTER"].overridden_fields == ["content"]
    assert versions["TWITTER"].hashtags == ["golf"] == versions["FACEBOOK"].hashtags
    assert composition.club_id == accounts["fb"].club_id and composition.content == "Club champs this weekend"


def test_an_override_equal_to_the_base_is_not_an_override(accounts):
    composition = make(accounts, overrides={"x": {"content": "Club champs this weekend"}})
    assert versions_of(composition)["TWITTER"].overridden_fields == []


def test_a_base_edit_reaches_the_versions_that_do_not_override_it(accounts):
    composition = make(accounts, overrides={"x": {"content": "X text"}}, hashtags=["golf"])
    compositions.composition_update(composition=composition, by="pat", content="Champs moved to Sunday",
                                    hashtags=["golf", "champs"])
    versions = versions_of(composition)
    assert versions["FACEBOOK"].content == "Champs moved to Sunday"
    assert versions["TWITTER"].content == "X text"  # overridden: kept
    assert versions["TWITTER"].hashtags == ["golf", "champs"] == versions["FACEBOOK"].hashtags  # not overridden
    assert versions["TWITTER"].overridden_fields == ["content"] and versions["FACEBOOK"].overridden_fields == []


def test_un_overriding_a_field_makes_the_version_follow_the_base_again(accounts):
    composition = make(accounts, overrides={"x": {"content": "X text"}})
    x = versions_of(composition)["TWITTER"]
    x = compositions.version_update(post=x, by="pat", reset=["content"])
    assert x.content == "Club champs this weekend" and x.overridden_fields == []
    compositions.composition_update(composition=composition, by="pat", content="New base")
    assert versions_of(composition)["TWITTER"].content == "New base"


def test_editing_a_version_on_its_own_overrides_that_field(accounts):
    composition = make(accounts)
    fb = versions_of(composition)["FACEBOOK"]
    services.post_update(post=fb, by="pat", content="Facebook only words")
    fb.refresh_from_db()
    assert fb.overridden_fields == ["content"]
    compositions.composition_update(composition=composition, by="pat", content="Base again")
    fb.refresh_from_db()
    assert fb.content == "Facebook only words"


def test_a_base_edit_is_refused_while_a_version_it_changes_is_scheduled_and_changes_nothing(accounts):
    composition = make(accounts)
    x = versions_of(composition)["TWITTER"]
    services.post_schedule(post=x, at=timezone.now() + timedelta(days=1), by="pat")
    with pytest.raises(compositions.VersionsRefused) as refused:
        compositions.composition_update(composition=composition, by="pat", content="Changed")
    assert list(refused.value.by_connection) == [str(accounts["x"].pk)]
    assert "cancel it" in refused.value.messages[0] and "Pinewood X" in refused.value.messages[0]
    composition.refresh_from_db()
    assert composition.content == "Club champs this weekend"
    assert versions_of(composition)["FACEBOOK"].content == "Club champs this weekend"


def test_a_published_version_keeps_what_went_out(accounts):
    composition = make(accounts)
    SocialPost.objects.filter(composition=composition, connection=accounts["x"]).update(status=S.PUBLISHED)
    compositions.composition_update(composition=composition, by="pat", content="After the event")
    versions = versions_of(composition)
    assert versions["TWITTER"].content == "Club champs this weekend"
    assert versions["FACEBOOK"].content == "After the event"


# ----------------------------------------------------------------------------- content rules per version


def test_a_long_base_passes_when_x_has_its_own_short_text(accounts):
    composition = make(accounts, content="Fairways " * 40, overrides={"x": {"content": "Fairways open"}})
    assert versions_of(composition)["TWITTER"].content == "Fairways open"


def test_a_version_breaking_its_networks_rules_is_reported_on_that_network_and_nothing_is_saved(accounts):
    with pytest.raises(compositions.VersionsRefused) as refused:
        make(accounts, overrides={"x": {"content": "Fairways " * 40}})
    assert list(refused.value.by_connection) == [str(accounts["x"].pk)]
    assert "X (Twitter) allows 280 characters" in refused.value.by_connection[str(accounts["x"].pk)][0]
    assert not Composition.objects.exists() and not SocialPost.objects.exists()


def test_an_instagram_only_image(accounts):
    composition = make(accounts, which=("fb", "ig"), overrides={"ig": {"media_urls": [IMAGE]}})
    versions = versions_of(composition)
    assert versions["INSTAGRAM"].media_urls == [IMAGE] and versions["INSTAGRAM"].overridden_fields == ["media_urls"]
    assert versions["FACEBOOK"].media_urls == []
    # Without its own image, Instagram (which needs one) is refused on its own section.
    with pytest.raises(compositions.VersionsRefused) as refused:
        make(accounts, which=("fb", "ig"))
    assert list(refused.value.by_connection) == [str(accounts["ig"].pk)]


def test_club_limited_staff_cannot_change_a_post_that_also_goes_to_another_club(accounts, club):
    other = ClubFactory(tenant=club.tenant)
    elsewhere = SocialConnectionFactory(club=other, tenant=club.tenant, platform="LINKEDIN")
    composition = compositions.composition_create(tenant=club.tenant, connections=[accounts["fb"], elsewhere],
                                                  content="Both clubs", by="admin")
    assert composition.club_id is None
    limited = StaffFactory(tenant=club.tenant, user__username="limited")
    limited.clubs.add(club)
    with pytest.raises(ValidationError, match="clubs you do not manage"):
        compositions.composition_update(composition=composition, by=limited.user, content="Mine now")


# ----------------------------------------------------------------------------- previews


def test_instagram_preview_is_cut_at_its_fold_on_a_whole_word_with_more():
    text = "Entries for the spring medal close on Friday at noon. " * 4
    card = version_preview(platform="INSTAGRAM", account_name="pinewood.golf", content=PostContent(text=text))
    assert card.cut and card.more_label == "more" and card.avatar_initial == "P"
    assert card.text.endswith("…") and len(card.text) <= 126 and text.startswith(card.text[:-1])
    assert card.text[:-1] == text[:len(card.text) - 1] and text[len(card.text) - 1] == " "  # ends on a whole word
    assert card.full_text.strip() == text.strip()


def test_short_text_is_not_cut_and_x_is_never_folded():
    assert fold_text("Short", 125) == ("Short", False)
    card = version_preview(platform="TWITTER", account_name="Pinewood X", content=PostContent(text="a " * 139))
    assert not card.cut


def test_x_preview_counts_as_x_counts():
    content = PostContent(text="Tee times 🏌️ open", link="https://example.com/a/very/long/path/to/the/booking/page")
    card = version_preview(platform="TWITTER", account_name="Pinewood X", content=content)
    # The link counts 23 and the emoji counts as X weighs it, not by code points.
    assert card.length != len(card.full_text) and card.limit == 280 and card.length_note == "links count as 23"
    from twitter_text import parse_tweet

    assert card.length == parse_tweet(card.full_text).weightedLength


def test_link_card_and_images_follow_each_networks_facts():
    link = "https://www.pinewood.example/entries"
    fb = version_preview(platform="FACEBOOK", account_name="Pinewood page", content=PostContent(text="Entries", link=link))
    assert fb.link_card.domain == "pinewood.example" and fb.link_card.url == link
    ig = version_preview(platform="INSTAGRAM", account_name="p", content=PostContent(text="Entries", link=link,
                                                                                       media_urls=[IMAGE]))
    assert ig.link_card is None and [i.name for i in ig.images] == ["flag.jpg"] and not ig.carousel
    many = version_preview(platform="FACEBOOK", account_name="p", content=PostContent(
        text="Photos", media_urls=[IMAGE, "https://cdn.example.com/green.jpg"]))
    assert many.carousel and many.link_card is None


# ----------------------------------------------------------------------------- pages


@pytest.fixture
def staff(client, tenant):
    client.force_login(StaffFactory(tenant=tenant).user)
    return client


def test_composer_makes_one_composition_with_a_different_x_text(staff, accounts):
    response = staff.post(reverse("posts:compose"), {
        "connections": [accounts["fb"].pk, accounts["x"].pk], "content": "Club champs this weekend",
        f"v-{accounts['x'].pk}-content": "Champs! #golf", "intent": "draft"})
    composition = Composition.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("posts:composition", args=[composition.pk])
    versions = versions_of(composition)
    assert versions["TWITTER"].content == "Champs! #golf" and versions["FACEBOOK"].content == "Club champs this weekend"
    page = staff.get(response["Location"]).content.decode()
    assert "Champs! #golf" in page and "X (Twitter): Draft" in page and "Facebook: Draft" in page


def test_composer_shows_a_versions_refusal_on_that_networks_section(staff, accounts):
    response = staff.post(reverse("posts:compose"), {
        "connections": [accounts["fb"].pk, accounts["x"].pk], "content": "Fine for both",
        f"v-{accounts['x'].pk}-content": "x" * 300, "intent": "draft"})
    page = response.content.decode()
    section = page.split(f'id="version-{accounts["x"].pk}"', 1)[1].split("</section>", 1)[0]
    assert "X (Twitter) allows 280 characters; this post has 300" in section
    assert 'x' * 300 in section  # the text typed is kept
    fb_section = page.split(f'id="version-{accounts["fb"].pk}"', 1)[1].split("</section>", 1)[0]
    assert "allows" not in fb_section
    assert not SocialPost.objects.exists()


def test_preview_endpoint_renders_each_accounts_card(staff, accounts):
    body = {"connections": [str(accounts["ig"].pk), str(accounts["x"].pk)], "content": "Long caption " * 20,
            "hashtags": "", "link_url": "", "media_urls": [], "uploads": 0,
            "versions": {str(accounts["ig"].pk): {"uploads": 1}, str(accounts["x"].pk): {"content": "Short on X"}}}
    response = staff.post(reverse("posts:preview"), json.dumps(body), content_type="application/json")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("data-preview-for=") == 2
    ig = html.split(f'data-preview-for="{accounts["ig"].pk}"', 1)[1].split("data-preview-for", 1)[0]
    assert 'data-violations="0"' in ig and "post-card-more" in ig and "more</span>" in ig and "upload.jpg" in ig
    x = html.split(f'data-preview-for="{accounts["x"].pk}"', 1)[1]
    assert "Short on X" in x and "10 / 280" in x and "Long caption" not in x


def test_preview_endpoint_refuses_a_body_of_another_shape(staff):
    response = staff.post(reverse("posts:preview"), json.dumps([1]), content_type="application/json")
    assert response.status_code == 400


def test_posts_list_shows_a_composition_as_one_row_with_a_status_per_network(staff, accounts):
    composition = make(accounts)
    SocialPost.objects.filter(composition=composition, connection=accounts["x"]).update(
        status=S.FAILED, error="X refused it.")
    alone = SocialPostFactory(connection=accounts["fb"], content="A post on its own")
    page = staff.get(reverse("posts:list")).content.decode()
    assert page.count(f'id="composition-{composition.pk}"') == 1
    row = page.split(f'id="composition-{composition.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Facebook: Draft" in row and "X (Twitter): Failed" in row
    for version in composition.versions.all():
        assert f'id="post-{version.pk}"' in row  # expandable to its versions
    assert f'id="post-{alone.pk}"' in page and "A post on its own" in page


# ----------------------------------------------------------------------------- API


@pytest.fixture
def api(tenant):
    client = APIClient()
    client.force_authenticate(StaffFactory(tenant=tenant).user)
    return client


def test_api_creates_lists_retrieves_updates_and_previews_a_composition(api, accounts):
    fb, x = str(accounts["fb"].pk), str(accounts["x"].pk)
    created = api.post("/api/v1/compositions/", {
        "connections": [fb, x], "content": "Base text", "hashtags": ["golf"],
        "versions": [{"connection": x, "content": "X text"}]}, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    by_platform = {v["platform"]: v for v in data["versions"]}
    assert by_platform["TWITTER"]["content"] == "X text" and by_platform["TWITTER"]["overridden_fields"] == ["content"]
    assert by_platform["FACEBOOK"]["status"] == "DRAFT" and by_platform["FACEBOOK"]["account_name"] == "Pinewood page"
    listed = api.get("/api/v1/compositions/").json()
    assert [c["id"] for c in listed["results"]] == [data["id"]]
    updated = api.patch(f"/api/v1/compositions/{data['id']}/", {
        "content": "New base", "versions": [{"connection": x, "reset": ["content"]}]}, format="json")
    assert updated.status_code == 200, updated.content
    assert {v["content"] for v in updated.json()["versions"]} == {"New base"}
    saved = api.get(f"/api/v1/compositions/{data['id']}/preview/").json()
    assert {v["platform"] for v in saved["versions"]} == {"FACEBOOK", "TWITTER"}
    # The existing posts API sees each version as an ordinary post.
    post = api.get(f"/api/v1/posts/{by_platform['TWITTER']['id']}/").json()
    assert post["content"] == "New base" and post["composition"] == data["id"]


def test_api_preview_of_an_unsaved_composition_stores_nothing(api, accounts):
    ig = str(accounts["ig"].pk)
    answer = api.post("/api/v1/compositions/preview/", {
        "connections": [ig], "content": "Caption " * 30, "versions": [{"connection": ig, "media_urls": [IMAGE]}]},
        format="json")
    assert answer.status_code == 200, answer.content
    (card,) = answer.json()["versions"]
    assert card["cut"] and card["more_label"] == "more" and card["violations"] == []
    assert card["images"][0]["name"] == "flag.jpg" and card["connection"] == ig
    assert not Composition.objects.exists()


def test_api_names_the_refused_version(api, accounts):
    fb, x = str(accounts["fb"].pk), str(accounts["x"].pk)
    answer = api.post("/api/v1/compositions/", {
        "connections": [fb, x], "content": "ok", "versions": [{"connection": x, "content": "y" * 300}]}, format="json")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == [f"versions.{x}"]
    assert "280" in answer.json()["fields"][f"versions.{x}"][0]
    stranger = api.post("/api/v1/compositions/", {
        "connections": [fb], "content": "ok", "versions": [{"connection": x, "content": "y"}]}, format="json")
    assert stranger.status_code == 400 and "versions" in stranger.json()["fields"]
    assert not Composition.objects.exists()


def test_schema_documents_the_compositions_api(api):
    schema = api.get("/api/schema/?format=json").json()
    assert {"/api/v1/compositions/", "/api/v1/compositions/{id}/", "/api/v1/compositions/preview/",
            "/api/v1/compositions/{id}/preview/"} <= set(schema["paths"])
    version = schema["components"]["schemas"]["VersionInputRequest"]["properties"]
    assert version["connection"]["format"] == "uuid" and "reset" in version
    assert "VersionPreview" in schema["components"]["schemas"]


def test_api_schedules_every_draft_version_at_once(api, accounts):
    fb, x = str(accounts["fb"].pk), str(accounts["x"].pk)
    data = api.post("/api/v1/compositions/", {"connections": [fb, x], "content": "Base"}, format="json").json()
    at = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    answer = api.post(f"/api/v1/compositions/{data['id']}/schedule/", {"scheduled_at": at.isoformat()}, format="json")
    assert answer.status_code == 200, answer.content
    assert {(v["status"], v["scheduled_at"]) for v in answer.json()["versions"]} == {
        ("SCHEDULED", at.isoformat().replace("+00:00", "Z"))}
    past = api.post(f"/api/v1/compositions/{data['id']}/schedule/",
                    {"scheduled_at": (timezone.now() - timedelta(days=1)).isoformat()}, format="json")
    assert past.status_code == 400
    assert {v.scheduled_at for v in SocialPost.objects.all()} == {at}  # all or none: nothing moved


def test_preview_endpoint_renders_only_the_callers_own_accounts(staff, accounts):
    foreign = SocialConnectionFactory(account_name="Someone else's page")
    body = {"connections": [str(foreign.pk), str(accounts["fb"].pk)], "content": "Hello"}
    html = staff.post(reverse("posts:preview"), json.dumps(body), content_type="application/json").content.decode()
    assert html.count("data-preview-for=") == 1 and "Someone else" not in html and str(foreign.pk) not in html


def test_composition_page_edits_the_shared_text_lets_a_version_follow_it_again_and_schedules_all(staff, accounts):
    composition = make(accounts, overrides={"x": {"content": "X text"}})
    url = reverse("posts:composition", args=[composition.pk])
    page = staff.get(url).content.decode()
    assert "Use the shared text" in page and "Edit the shared text" in page
    staff.post(url, {"action": "edit", "content": "Shared, edited", "hashtags": "golf", "link_url": ""})
    versions = versions_of(composition)
    assert versions["FACEBOOK"].content == "Shared, edited" and versions["TWITTER"].content == "X text"
    assert versions["TWITTER"].hashtags == ["golf"]
    staff.post(url, {"action": "reset", "post": versions["TWITTER"].pk, "field": "content"})
    assert versions_of(composition)["TWITTER"].content == "Shared, edited"
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo(str(accounts["fb"].club.timezone)))
    staff.post(url, {"action": "schedule", "scheduled_local": local.strftime("%Y-%m-%dT%H:%M")})
    assert {v.status for v in composition.versions.all()} == {S.SCHEDULED}
    assert "X (Twitter): Scheduled" in staff.get(url).content.decode()


def test_composer_leaves_the_shared_image_out_on_one_account(staff, accounts):
    staff.post(reverse("posts:compose"), {
        "connections": [accounts["fb"].pk, accounts["x"].pk], "content": "Course photos",
        "media_urls": [IMAGE], f"v-{accounts['x'].pk}-no_media": "1", "intent": "draft"})
    versions = versions_of(Composition.objects.get())
    assert versions["FACEBOOK"].media_urls == [IMAGE]
    assert versions["TWITTER"].media_urls == [] and versions["TWITTER"].overridden_fields == ["media_urls"]
    body = {"connections": [str(accounts["x"].pk)], "content": "Course photos", "media_urls": [IMAGE],
            "versions": {str(accounts["x"].pk): {"no_media": True}}}
    html = staff.post(reverse("posts:preview"), json.dumps(body), content_type="application/json").content.decode()
    assert "flag.jpg" not in html and "Course photos" in html


# ----------------------------------------------------------------------------- library images of one account


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"
    return tmp_path


def _library_image(club, *, name="flag.jpg", alt="", size=(640, 800)):
    asset, _ = media_upload(tenant=club.tenant, club=club, by=None, alt_text=alt,
                            upload=SimpleUploadedFile(name, images.jpeg(*size), content_type="image/jpeg"))
    return asset


def _uses(post):
    return list(PostMedia.objects.filter(post=post).order_by("position").values_list("asset_id", flat=True))


def test_an_accounts_section_uses_a_library_image_with_its_description_there_alone(staff, accounts, club, media_root):
    asset = _library_image(club)
    ig = str(accounts["ig"].pk)
    response = staff.post(reverse("posts:compose"), {
        "connections": [accounts["x"].pk, ig], "content": "Flag day", "intent": "draft",
        f"v-{ig}-library_media": [str(asset.pk)], f"v-{ig}-alt_{asset.pk}": "The flag on the 18th green"})
    assert response.status_code == 302, response.content.decode()[:2000]
    versions = versions_of(Composition.objects.get())
    assert versions["INSTAGRAM"].media_urls == [asset.url] and versions["INSTAGRAM"].overridden_fields == ["media_urls"]
    assert versions["TWITTER"].media_urls == [] and _uses(versions["TWITTER"]) == []
    assert _uses(versions["INSTAGRAM"]) == [asset.pk]
    assert alt_texts_for(tenant_id=club.tenant_id, urls=versions["INSTAGRAM"].media_urls) == [
        "The flag on the 18th green"]


def test_an_image_uploaded_in_an_accounts_section_goes_into_the_library_with_its_description(staff, accounts,
                                                                                             media_root):
    ig = str(accounts["ig"].pk)
    staff.post(reverse("posts:compose"), {
        "connections": [accounts["fb"].pk, ig], "content": "Juniors", "intent": "draft",
        f"v-{ig}-media": SimpleUploadedFile("range.jpg", images.jpeg(800, 800), content_type="image/jpeg"),
        f"v-{ig}-upload_alt": "Juniors on the driving range"})
    asset = MediaAsset.objects.get()
    assert asset.alt_text == "Juniors on the driving range" and asset.original_name == "range.jpg"
    versions = versions_of(Composition.objects.get())
    assert versions["INSTAGRAM"].media_urls == [asset.url] and _uses(versions["INSTAGRAM"]) == [asset.pk]
    assert versions["FACEBOOK"].media_urls == []


def _checked_in_section(page, pk):
    return re.findall(rf'name="v-{pk}-library_media" value="([^"]+)"[^>]*checked', page)


def test_a_refused_submission_keeps_each_sections_chosen_and_uploaded_library_images(staff, accounts, club,
                                                                                     media_root):
    chosen = _library_image(club)
    ig, x = str(accounts["ig"].pk), str(accounts["x"].pk)
    response = staff.post(reverse("posts:compose"), {
        "connections": [x, ig], "content": "Flag day", "intent": "draft", f"v-{x}-content": "a" * 300,
        f"v-{ig}-library_media": [str(chosen.pk)], f"v-{ig}-alt_{chosen.pk}": "Typed here",
        f"v-{ig}-media": SimpleUploadedFile("range.jpg", images.jpeg(700, 700), content_type="image/jpeg"),
        f"v-{ig}-upload_alt": "Juniors on the driving range"})
    page = response.content.decode()
    assert response.status_code == 200 and "allows 280 characters" in page
    assert not SocialPost.objects.exists()
    uploaded = MediaAsset.objects.exclude(pk=chosen.pk).get()
    assert _checked_in_section(page, ig) == [str(chosen.pk), str(uploaded.pk)]
    assert _checked_in_section(page, x) == [] and f'id="v-{ig}-alt_{chosen.pk}"' in page
    assert "Typed here" in page and "Juniors on the driving range" in page


def test_a_section_cannot_use_another_tenants_library_image(staff, accounts, media_root):
    stranger = _library_image(ClubFactory())
    ig = str(accounts["ig"].pk)
    response = staff.post(reverse("posts:compose"), {
        "connections": [accounts["x"].pk, ig], "content": "Flag day", "intent": "draft",
        f"v-{ig}-library_media": [str(stranger.pk)]})
    assert response.status_code == 200 and "no longer there" in response.content.decode()
    assert not SocialPost.objects.exists() and stranger.alt_text == ""


def test_previews_show_chosen_library_images_by_their_thumbnails(staff, accounts, club, media_root):
    shared, own = _library_image(club, name="shared.jpg"), _library_image(club, name="own.jpg", size=(500, 500))
    stranger = _library_image(ClubFactory(), name="stranger.jpg", size=(300, 300))
    fb, ig = str(accounts["fb"].pk), str(accounts["ig"].pk)
    body = {"connections": [fb, ig], "content": "Flag day", "library_media": [str(shared.pk), str(stranger.pk)],
            "versions": {ig: {"library_media": [str(own.pk), "not-an-id"]}}}
    answer = staff.post(reverse("posts:preview"), json.dumps(body), content_type="application/json")
    html = answer.content.decode()
    assert answer.status_code == 200
    cards = dict(re.findall(r'data-preview-for="([^"]+)"(.*?)</article>', html, re.S))
    assert own.thumbnail_path in cards[ig] and shared.thumbnail_path not in cards[ig]
    assert shared.thumbnail_path in cards[fb] and own.thumbnail_path not in cards[fb]
    assert "upload.jpg" not in html and stranger.thumbnail_path not in html and "stranger" not in html
    bad = staff.post(reverse("posts:preview"), json.dumps({"connections": [fb], "library_media": "x"}),
                     content_type="application/json")
    assert bad.status_code == 400 and "library_media" in bad.json()["detail"]


def test_a_saved_posts_card_shows_its_library_image_thumbnail(accounts, club, media_root):
    asset = _library_image(club)
    post = services.post_create(tenant=club.tenant, connection=accounts["ig"], content="Flag", created_by="pat",
                                media_urls=[asset.url])
    (image,) = post_preview(post=post).images
    assert image.src == asset.thumbnail_path and image.url == asset.url


def test_staff_of_some_clubs_upload_a_sections_image_into_that_accounts_club_library(client, accounts, club,
                                                                                     media_root):
    other = ClubFactory(tenant=club.tenant)
    client.force_login(StaffFactory(tenant=club.tenant, clubs=[other, club]).user)
    session = client.session
    session[CLUB_SESSION_KEY] = other.pk  # working in the other club
    session.save()
    ig = str(accounts["ig"].pk)
    response = client.post(reverse("posts:compose"), {
        "connections": [accounts["x"].pk, ig], "content": "Juniors", "intent": "draft",
        f"v-{ig}-media": SimpleUploadedFile("range.jpg", images.jpeg(800, 800), content_type="image/jpeg"),
        f"v-{ig}-upload_alt": "Juniors on the driving range"})
    assert response.status_code == 302, response.content.decode()[:2000]
    asset = MediaAsset.objects.get()
    assert asset.club_id == club.pk  # the club of the account it is for, whatever club the staff member is in
    assert _uses(versions_of(Composition.objects.get())["INSTAGRAM"]) == [asset.pk]
