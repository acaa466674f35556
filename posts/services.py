"""Writes on posts: create, edit, schedule, cancel, retry, publish now, delete.

Every status change goes through ``posts.states`` and, where a worker could race with staff,
through a conditional UPDATE so exactly one caller wins. The publisher itself lives in
``posts.publishing``.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from platforms import PostContent, get_adapter
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.states import STAFF_ACTIONS, IllegalTransition, check_action, check_editable, check_transition
from socialcrm.inputs import date_in_range, moment_in_range, moment_range_message

# A publish time this close to now (or in the past by at most this) is taken as "now".
SCHEDULE_GRACE = timedelta(minutes=1)

# Which model field each adapter violation belongs to.
VIOLATION_FIELDS = {"text": "content", "hashtags": "hashtags", "link": "link_url", "media": "media_urls"}


def actor_name(by):
    if by is None:
        return "system"
    if hasattr(by, "get_username"):
        return by.get_username()
    return str(by)


def post_content(post):
    return PostContent(text=post.content or "", hashtags=list(post.hashtags or []), link=post.link_url or None,
                       media_urls=list(post.media_urls or []))


def content_violations(*, platform, content):
    """The platform's content rules (the adapters' ``validate``): the one place they are checked.

    Files the app stored itself are also held to the platform's size rules here, at compose time
    (their size is known without any network call); other addresses are checked when published.
    """
    adapter = get_adapter(platform)
    return adapter.validate(content) + adapter.media_violations(_stored_files(content.media_urls))


def _stored_files(urls):
    from platforms import PlatformError
    from platforms.fetch import media_fetch, stored_media_name

    files = []
    for url in urls:
        if stored_media_name(url) is None:
            continue
        try:
            media = media_fetch(url, read_body=False)
        except PlatformError:  # missing or unreadable: reported when it is published
            continue
        files.append((media.name, media.content_type, media.size or 0))
    return files


def _raise_for(violations):
    if not violations:
        return
    errors = {}
    for violation in violations:
        errors.setdefault(VIOLATION_FIELDS.get(violation.field, "content"), []).append(violation.message)
    raise ValidationError(errors)


def _check_connection(*, tenant, connection):
    if connection is None or connection.tenant_id != tenant.pk:
        raise ValidationError({"connection": "Connection not found."})
    if not connection.is_active:
        raise ValidationError({"connection": (
            f"{connection.get_platform_display()} account “{connection.account_name}” needs reconnecting "
            "before it can publish.")})


def _check_campaign(*, tenant, campaign):
    if campaign is not None and campaign.tenant_id != tenant.pk:
        raise ValidationError({"campaign": "Campaign not found."})


def _check_time(at, *, now=None):
    now = now or timezone.now()
    if at is None:
        raise ValidationError({"scheduled_at": "Choose when to publish."})
    if timezone.is_naive(at):
        raise ValidationError({"scheduled_at": "The publish time needs a timezone."})
    try:
        at = moment_in_range(at, now=now)
    except ValidationError as exc:
        raise ValidationError({"scheduled_at": exc.messages}) from None
    if at < now - SCHEDULE_GRACE:
        raise ValidationError({"scheduled_at": "The publish time is in the past."})


def _clean_list(values):
    """Stripped, non-empty, each value once (in the order given)."""
    return list(dict.fromkeys(str(v).strip() for v in (values or ()) if str(v).strip()))


@transaction.atomic
def post_create(*, tenant, connection, content, hashtags=(), link_url=None, media_urls=(), campaign=None,
                scheduled_at=None, created_by, dispatch=None):
    """A DRAFT post, or a SCHEDULED one when ``scheduled_at`` is given; content checked by the platform's rules."""
    _check_connection(tenant=tenant, connection=connection)
    _check_campaign(tenant=tenant, campaign=campaign)
    post = SocialPost(
        tenant=tenant, connection=connection, campaign=campaign, content=content or "",
        hashtags=_clean_list(hashtags), link_url=link_url or None, media_urls=_clean_list(media_urls),
        created_by=actor_name(created_by), dispatch=dispatch, status=S.DRAFT,
    )
    _raise_for(content_violations(platform=connection.platform, content=post_content(post)))
    if scheduled_at is not None:
        _check_time(scheduled_at)
        post.status, post.scheduled_at = S.SCHEDULED, scheduled_at
    post.save()
    return post


@transaction.atomic
def post_update(*, post, by, content=None, hashtags=None, link_url=..., media_urls=None, campaign=..., connection=None):
    """Edit a DRAFT or FAILED post (a FAILED one becomes a DRAFT again: its old error no longer applies)."""
    post = SocialPost.objects.select_for_update().select_related("connection").get(pk=post.pk)
    check_editable(post.status)
    if connection is not None and connection.pk != post.connection_id:
        _check_connection(tenant=post.tenant, connection=connection)
        post.connection = connection
    if campaign is not ...:
        _check_campaign(tenant=post.tenant, campaign=campaign)
        post.campaign = campaign
    if content is not None:
        post.content = content
    if hashtags is not None:
        post.hashtags = _clean_list(hashtags)
    if link_url is not ...:
        post.link_url = link_url or None
    if media_urls is not None:
        post.media_urls = _clean_list(media_urls)
    _raise_for(content_violations(platform=post.connection.platform, content=post_content(post)))
    if post.status == S.FAILED:
        check_transition(post.status, S.DRAFT, action="edit")
        post.status = S.DRAFT
        post.error = post.error_kind = post.next_attempt_at = None
        post.attempts = 0
    post.save()
    return post


def _locked(post):
    return SocialPost.objects.select_for_update().select_related("connection").get(pk=post.pk)


def _refresh(post, fresh):
    post.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return post


@transaction.atomic
def post_schedule(*, post, at, by):
    """DRAFT → SCHEDULED at ``at`` (or move a SCHEDULED post to a new time)."""
    fresh = _locked(post)
    check_action(fresh.status, "schedule")
    _check_connection(tenant=fresh.tenant, connection=fresh.connection)
    _raise_for(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
    _check_time(at)
    fresh.status, fresh.scheduled_at = S.SCHEDULED, at
    fresh.error = fresh.error_kind = fresh.next_attempt_at = None
    fresh.save(update_fields=["status", "scheduled_at", "error", "error_kind", "next_attempt_at", "updated_at"])
    return _refresh(post, fresh)


def _conditional(post, *, from_status, action, **changes):
    """UPDATE ... WHERE status = from_status; IllegalTransition when the row was elsewhere (or moved meanwhile)."""
    check_transition(from_status, changes["status"], action=action)
    changes["updated_at"] = timezone.now()
    won = SocialPost.objects.filter(pk=post.pk, status=from_status).update(**changes)
    if not won:
        current = SocialPost.objects.filter(pk=post.pk).values_list("status", flat=True).first()
        if current is None:
            raise SocialPost.DoesNotExist("The post no longer exists.")
        raise IllegalTransition(post_status=current, action=action)
    for name, value in changes.items():
        setattr(post, name, value)
    return post


def post_cancel(*, post, by):
    """SCHEDULED → DRAFT. Conditional, so a post the publisher has just claimed is not 'cancelled'."""
    return _conditional(post, from_status=S.SCHEDULED, action="cancel", status=S.DRAFT, next_attempt_at=None)


@transaction.atomic
def post_retry(*, post, by, at=None):
    """FAILED → SCHEDULED, with a fresh attempt budget; at once unless a later time is given."""
    fresh = _locked(post)
    check_action(fresh.status, "retry")
    _check_connection(tenant=fresh.tenant, connection=fresh.connection)
    _raise_for(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
    now = timezone.now()
    if at is not None:
        _check_time(at, now=now)
    fresh.status, fresh.scheduled_at = S.SCHEDULED, max(at or now, now)
    fresh.attempts, fresh.error, fresh.error_kind, fresh.next_attempt_at = 0, None, None, None
    fresh.publishing_started_at = fresh.claimed_at = fresh.first_claimed_at = fresh.publish_lag_seconds = None
    fresh.save(update_fields=["status", "scheduled_at", "attempts", "error", "error_kind", "next_attempt_at",
                              "publishing_started_at", "claimed_at", "first_claimed_at", "publish_lag_seconds",
                              "updated_at"])
    return _refresh(post, fresh)


def post_publish_now(*, post, by):
    """Publish a DRAFT, SCHEDULED or FAILED post at once: schedule it for now and claim it straight away."""
    from posts.publishing import enqueue_publish, post_claim

    with transaction.atomic():
        fresh = _locked(post)
        check_action(fresh.status, "publish")
        _check_connection(tenant=fresh.tenant, connection=fresh.connection)
        _raise_for(content_violations(platform=fresh.connection.platform, content=post_content(fresh)))
        now = timezone.now()
        fresh.status, fresh.scheduled_at = S.SCHEDULED, now
        fresh.attempts, fresh.error, fresh.error_kind, fresh.next_attempt_at = 0, None, None, None
        fresh.publishing_started_at = fresh.claimed_at = fresh.first_claimed_at = fresh.publish_lag_seconds = None
        fresh.save(update_fields=["status", "scheduled_at", "attempts", "error", "error_kind", "next_attempt_at",
                                  "publishing_started_at", "claimed_at", "first_claimed_at", "publish_lag_seconds",
                                  "updated_at"])
        if post_claim(post_id=fresh.pk, now=now):
            enqueue_publish(post_id=fresh.pk)
    fresh.refresh_from_db()
    return _refresh(post, fresh)


def post_delete(*, post, by):
    """Delete a post that has not started publishing (DRAFT, SCHEDULED or FAILED)."""
    deleted, _ = SocialPost.objects.filter(pk=post.pk, status__in=STAFF_ACTIONS["delete"]).delete()
    if not deleted:
        current = SocialPost.objects.filter(pk=post.pk).values_list("status", flat=True).first()
        if current is None:
            raise SocialPost.DoesNotExist("The post no longer exists.")
        raise IllegalTransition(post_status=current, action="delete")


# ----------------------------------------------------------------------------- times and media

MEDIA_TYPES = {"image/jpeg": "image", "image/png": "image", "image/gif": "image", "image/webp": "image",
               "video/mp4": "video", "video/quicktime": "video"}
MEDIA_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
                    "video/mp4": ".mp4", "video/quicktime": ".mov"}


def media_type_of(head):
    """The media type the file's first bytes show, whatever the browser claimed; None when unknown."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    return None


def club_local_to_utc(*, local, club):
    """A wall-clock time in the club's timezone (DST-aware: the offset of that date, not of today)."""
    import zoneinfo

    zone = zoneinfo.ZoneInfo(str(club.timezone)) if club is not None else timezone.get_current_timezone()
    try:  # the day either side too: the conversion itself must not leave the calendar
        date_in_range(local.date() - timedelta(days=1))
        date_in_range(local.date() + timedelta(days=1))
    except (ValidationError, OverflowError):
        raise ValidationError({"scheduled_at": moment_range_message()}) from None
    aware = local.replace(tzinfo=zone)
    # A time that does not exist (the hour skipped when clocks go forward) is moved past the gap.
    round_trip = aware.astimezone(zoneinfo.ZoneInfo("UTC")).astimezone(zone)
    if round_trip.replace(tzinfo=None) != local:
        aware = round_trip
    return aware.astimezone(zoneinfo.ZoneInfo("UTC"))


def media_store(*, upload, tenant):
    """Save an uploaded image or video through Django's storage API; returns its public URL.

    The type is read from the file's own bytes and decides the stored extension, so a file
    cannot be served back as anything but the image or video it is.
    """
    import uuid
    from pathlib import PurePath

    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.utils.text import get_valid_filename

    from platforms.base import DEFAULT_MEDIA_MAX_BYTES

    head = upload.read(16)
    upload.seek(0)
    media_type = media_type_of(head)
    if media_type is None:
        raise ValidationError({"media": f"“{upload.name}” is not an image (JPEG, PNG, GIF, WebP) or video (MP4, MOV)."})
    kind = MEDIA_TYPES[media_type]
    limits = getattr(settings, "MEDIA_MAX_BYTES", None) or DEFAULT_MEDIA_MAX_BYTES
    limit = int(limits.get(kind, DEFAULT_MEDIA_MAX_BYTES[kind]))
    if upload.size > limit:
        raise ValidationError({"media": f"“{upload.name}” is larger than {limit // (1024 * 1024)} MB."})
    stem = get_valid_filename(PurePath(upload.name).stem) or "media"
    name = f"posts/{tenant.pk}/{uuid.uuid4().hex}/{stem}{MEDIA_EXTENSIONS[media_type]}"
    path = default_storage.save(name, upload)
    return settings.SITE_URL.rstrip("/") + settings.MEDIA_URL + path


def media_discard(*, urls):
    """Remove files media_store saved (for posts that were then refused)."""
    from django.conf import settings
    from django.core.files.storage import default_storage

    prefix = settings.SITE_URL.rstrip("/") + settings.MEDIA_URL
    for url in urls:
        if url.startswith(prefix + "posts/"):
            default_storage.delete(url[len(prefix):])
