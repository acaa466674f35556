"""What staff are told about posts is true, and nothing they gave is lost on the way.

An upload survives a refusal of another field; a failed post stays retryable when edited and is
not offered for a retry that would only repeat its refusal; deleting asks first; errors lead with
a plain sentence and keep the platform's words as detail.
"""

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from connections.tests.factories import SocialConnectionFactory
from crm.tests.factories import StaffFactory, TenantFactory
from library.tests import images
from posts import services
from posts.models import PublishErrorKind as K
from posts.models import SchedulerHeartbeat, SocialPost, split_platform_words
from posts.models import SocialPostStatus as S
from posts.serializers import SocialPostSerializer
from posts.states import IllegalTransition, allowed_actions
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, tenant):
    client.force_login(StaffFactory(tenant=tenant).user)
    return client


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def jpeg(name="flag.jpg"):
    return SimpleUploadedFile(name, images.jpeg(640, 800), content_type="image/jpeg")


def mp4(name="flag.mp4"):
    """A video upload (kept as a post's own file; images go into the media library)."""
    return SimpleUploadedFile(name, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32, content_type="video/mp4")


def chosen_library_images(page):
    return re.findall(r'name="library_media" value="([^"]+)"[^>]*checked', page)


def stored_files(root):
    return [p for p in root.rglob("*") if p.is_file()]


def attached_names(page):
    return re.findall(r'name="stored_media" value="([^"]+)"', page)


# ----------------------------------------------------------------------------- composer uploads


def test_upload_survives_a_refusal_of_another_field_and_is_published_with_the_fixed_post(staff, club, media_root):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    page = staff.post(reverse("posts:compose"), {"connections": [x.pk], "content": "y" * 300, "intent": "draft",
                                                 "media": mp4()}).content.decode()
    assert "280" in page and not SocialPost.objects.exists()
    names = attached_names(page)
    assert len(names) == 1 and names[0].endswith("/flag.mp4") and 'id="attached-media"' in page
    assert len(stored_files(media_root)) == 1  # kept, not discarded
    # Sent again without choosing the file again: the post carries it.
    staff.post(reverse("posts:compose"), {"connections": [x.pk], "content": "Flag on the 9th", "intent": "draft",
                                          "stored_media": names})
    post = SocialPost.objects.get()
    assert [u.rsplit("/", 1)[-1] for u in post.media_urls] == ["flag.mp4"] and names[0] in post.media_urls[0]


def test_an_uploaded_image_survives_a_refusal_as_a_chosen_library_image(staff, club, media_root):
    x = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    page = staff.post(reverse("posts:compose"), {"connections": [x.pk], "content": "y" * 300, "intent": "draft",
                                                 "media": jpeg(), "upload_alt": "Flag on the 9th green"}).content.decode()
    assert "280" in page and not SocialPost.objects.exists()
    (chosen,) = chosen_library_images(page)
    assert "Flag on the 9th green" in page
    staff.post(reverse("posts:compose"), {"connections": [x.pk], "content": "Flag on the 9th", "intent": "draft",
                                          "library_media": [chosen], f"alt_{chosen}": "The flag on the 9th green"})
    post = SocialPost.objects.get()
    assert [u.rsplit("/", 1)[-1] for u in post.media_urls] == ["flag.jpg"]
    assert str(post.media_items.get().asset_id) == chosen
    assert post.media_items.get().asset.alt_text == "The flag on the 9th green"  # edited beside the image


def test_upload_survives_a_refusal_before_any_post_is_made(staff, club, media_root):
    SocialConnectionFactory(club=club, tenant=club.tenant)
    page = staff.post(reverse("posts:compose"), {"content": "No account chosen", "intent": "draft",
                                                 "media": [mp4("course.mp4"), jpeg("course.jpg")]}).content.decode()
    assert "Choose at least one account" in page
    assert [n.rsplit("/", 1)[-1] for n in attached_names(page)] == ["course.mp4"]
    assert len(chosen_library_images(page)) == 1


def test_a_file_of_another_tenant_cannot_be_attached_by_name(staff, club, media_root):
    x = SocialConnectionFactory(club=club, tenant=club.tenant)
    other = TenantFactory()
    theirs = f"posts/{other.pk}/{'a' * 32}/secret.jpg"
    (media_root / theirs).parent.mkdir(parents=True)
    (media_root / theirs).write_bytes(b"\xff\xd8\xff\xe0")
    for name in (theirs, f"posts/{club.tenant.pk}/{'b' * 32}/gone.jpg", "../../etc/passwd"):
        page = staff.post(reverse("posts:compose"), {"connections": [x.pk], "content": "Hi", "intent": "draft",
                                                     "stored_media": [name]})
        assert page.status_code == 200 and "no longer stored; upload it again" in page.content.decode()
    assert not SocialPost.objects.exists()


def test_draft_edit_form_has_labels_and_the_live_counter(staff, club):
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER"))
    page = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    form = page.split('id="edit-post"')[1].split("</form>")[0]
    for field in ("edit-content", "edit-hashtags", "edit-link", "edit-media"):
        assert f'<label for="{field}">' in form and f'id="{field}"' in form
    assert f'data-rules-url="{reverse("posts:rules")}"' in form and 'data-platforms="TWITTER"' in form
    assert "data-rules-out" in form and "js/posts-composer.js" in page


# ----------------------------------------------------------------------------- failed posts


def failed(club, kind=K.TRANSIENT, error="X had a temporary problem; it will be tried again. (Service Unavailable)",
           **kw):
    connection = SocialConnectionFactory(club=club, tenant=club.tenant, platform="TWITTER")
    return SocialPostFactory(connection=connection, status=S.FAILED, error=error, error_kind=kind, attempts=5,
                             scheduled_at=timezone.now() - timedelta(hours=3), **kw)


def test_editing_a_failed_post_keeps_it_retryable_and_clears_its_past_publish_time(club):
    post = failed(club)
    services.post_update(post=post, by="alex", content="Course open at 8am, not 7am")
    post.refresh_from_db()
    assert post.status == S.FAILED and post.scheduled_at is None
    assert "retry" in allowed_actions(post.status, post.error_kind)
    services.post_retry(post=post, by="alex")
    post.refresh_from_db()
    assert post.status == S.SCHEDULED and post.attempts == 0


def test_editing_keeps_a_future_publish_time(club):
    later = timezone.now() + timedelta(days=1)
    post = failed(club)
    SocialPost.objects.filter(pk=post.pk).update(scheduled_at=later)
    services.post_update(post=post, by="alex", content="Edited")
    post.refresh_from_db()
    assert post.scheduled_at == later


@pytest.mark.parametrize("kind,says", [(K.DUPLICATE, "duplicate"), (K.PERMISSION, "permission"),
                                       (K.INVALID_CONTENT, "refused its content")])
def test_a_permanent_refusal_is_not_retried_until_its_cause_changes(staff, club, kind, says):
    post = failed(club, kind=kind, error="X refuses a post identical to a recent one. (Status is a duplicate.)")
    assert "retry" not in allowed_actions(post.status, post.error_kind)
    for service in (services.post_retry, services.post_publish_now):
        with pytest.raises(IllegalTransition, match=says):
            service(post=post, by="alex")
    page = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert 'value="retry"' not in page and 'value="publish"' not in page and 'id="retry-blocked"' in page
    assert "retry" not in SocialPostSerializer(post).data["actions"]
    # Editing the content removes the cause: Retry is offered and works.
    services.post_update(post=post, by="alex", content="Something new to say")
    post.refresh_from_db()
    assert "retry" in allowed_actions(post.status, post.error_kind)
    assert services.post_retry(post=post, by="alex").status == S.SCHEDULED


def test_bulk_retry_names_the_blocked_post_instead_of_retrying_it(staff, club):
    post = failed(club, kind=K.DUPLICATE)
    page = staff.post(reverse("posts:list"), {"bulk": "retry", "post": [post.pk]}, follow=True).content.decode()
    post.refresh_from_db()
    assert post.status == S.FAILED and "duplicate" in page


def test_a_failed_post_offers_one_explained_retry(staff, club):
    post = failed(club)
    page = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    actions = page.split('id="post-actions"')[1].split("</section>")[0]
    assert 'value="retry"' in actions and 'value="publish"' not in actions
    assert 'id="retry-help"' in actions and "fresh set of attempts" in actions


# ----------------------------------------------------------------------------- deleting


def test_deleting_a_post_asks_first(staff, club):
    post = SocialPostFactory(connection=SocialConnectionFactory(club=club, tenant=club.tenant))
    detail = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    assert 'value="delete"' not in detail and reverse("posts:delete", args=[post.pk]) in detail
    response = staff.post(reverse("posts:action", args=[post.pk]), {"action": "delete"})
    assert response.status_code == 302 and response["Location"] == reverse("posts:delete", args=[post.pk])
    assert SocialPost.objects.filter(pk=post.pk).exists()
    confirm = staff.get(reverse("posts:delete", args=[post.pk])).content.decode()
    assert "cannot be recovered" in confirm and 'name="confirm" value="yes"' in confirm
    staff.post(reverse("posts:action", args=[post.pk]), {"action": "delete", "confirm": "yes"})
    assert not SocialPost.objects.filter(pk=post.pk).exists()


def test_delete_confirm_page_is_tenant_scoped_and_refuses_published_posts(staff, club):
    assert staff.get(reverse("posts:delete", args=[SocialPostFactory().pk])).status_code == 404
    live = SocialPostFactory(connection=SocialConnectionFactory(club=club, tenant=club.tenant), status=S.PUBLISHED)
    response = staff.get(reverse("posts:delete", args=[live.pk]), follow=True)
    assert "cannot be deleted" in response.content.decode() and SocialPost.objects.filter(pk=live.pk).exists()


# ----------------------------------------------------------------------------- wording


def test_error_leads_with_the_plain_sentence_and_keeps_the_platforms_words_as_detail(staff, club):
    post = failed(club, kind=K.PERMISSION, error="Facebook needs the “Create content” permission. Reconnect the "
                  "account and tick it. ((#200) Requires the pages_manage_posts permission)")
    page = staff.get(reverse("posts:detail", args=[post.pk])).content.decode()
    shown = page.split('id="post-error"')[1].split("</dd>")[0]
    lead, detail = shown.split('id="post-error-detail"')
    assert "Create content" in lead and "pages_manage_posts" not in lead
    assert "(#200) Requires the pages_manage_posts permission" in detail
    dashboard = staff.get("/").content.decode()
    failed_list = dashboard.split('id="failed-posts"')[1].split("</section>")[0]
    assert "Create content" in failed_list and "pages_manage_posts" not in failed_list


@pytest.mark.parametrize("message,parts", [
    ("X had a temporary problem. (Service (really) down)", ("X had a temporary problem.", "Service (really) down")),
    ("Gave up (after 5 attempts)", ("Gave up (after 5 attempts)", "")),
    ("Plain sentence.", ("Plain sentence.", "")),
])
def test_platform_words_are_split_only_from_a_finished_sentence(message, parts):
    assert split_platform_words(message) == parts


def test_dashboard_names_periodic_jobs_not_tasks(staff):
    SchedulerHeartbeat.objects.create(name="publish_due_posts", last_run_at=timezone.now())
    SchedulerHeartbeat.objects.create(name="reconcile_stuck_posts", last_run_at=timezone.now())
    scheduler = staff.get("/").content.decode().split('id="scheduler"')[1].split("</section>")[0]
    assert "Publish due posts: last ran" in scheduler and "Reconcile stuck posts" in scheduler
    assert "_" not in scheduler.split("<ul")[1]


def test_a_missing_permission_is_named_as_staff_know_it_and_blocks_retry(connect, simulator, eager_celery,
                                                                         django_capture_on_commit_callbacks):
    from posts.publishing import posts_publish_due

    fb = connect("facebook")
    post = services.post_create(tenant=fb.tenant, connection=fb, content="Open day Saturday", created_by="alex",
                                scheduled_at=timezone.now())
    simulator.inject("facebook", "POST */feed", "permission")
    with django_capture_on_commit_callbacks(execute=True):
        posts_publish_due()
    post.refresh_from_db()
    assert post.status == S.FAILED and post.error_kind == K.PERMISSION
    assert post.error_summary == "Facebook needs the “Create content” permission. Reconnect the account and tick it."
    assert "pages_manage_posts" in post.error_detail
    assert "retry" not in allowed_actions(post.status, post.error_kind)
