"""The publisher: find due posts, claim each exactly once, publish, retry, reconcile stuck ones.

Claims are conditional UPDATEs (``WHERE status = 'SCHEDULED'``): whichever worker changes the
row goes on, every other one sees zero rows and moves along. The publish task carries the
claim's timestamp and consumes it with a second conditional UPDATE before calling the
platform, so a redelivered task (acks_late after a crash) never calls the platform again: the
reconciler asks the platform instead.
"""

import logging
import random
import time
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from connections.services import ConnectionUnusable, TokenUnreadable, connection_call
from crm.history import acting, history_record
from platforms import (
    AuthExpired,
    DuplicateContent,
    InvalidContent,
    NotFound,
    PermissionMissing,
    PlatformError,
    ProcessingPending,
    RateLimited,
    TransientError,
    get_adapter,
)
from platforms.errors import split_platform_words
from platforms.fetch import media_fetch
from posts.approvals import NOT_APPROVED_MESSAGE, WAITING
from posts.content import content_violations, post_content
from posts.models import PublishErrorKind as K
from posts.models import SocialPost
from posts.models import SocialPostStatus as S
from posts.selectors import posts_due
from posts.states import check_transition
from socialcrm.schedules import heartbeat_record

logger = logging.getLogger("posts")

PUBLISH_TASK = "posts.publish_post"  # posts/tasks.py
MISSED_MESSAGE = "The post missed its publish time and was not published late."

# Sent with ``post`` when the publisher (or the reconciler) settles a post as FAILED; notifications listen.
# Posts failed in bulk for missing their time are not announced one by one: the notification scan finds them.
post_failed = Signal()


# ----------------------------------------------------------------------------- claiming


def posts_fail_unapproved(*, now):
    """Due posts that still wait for approval are failed with the reason, never published unapproved."""
    check_transition(S.SCHEDULED, S.FAILED, action="fail")
    ids = list(SocialPost.objects.filter(status=S.SCHEDULED, scheduled_at__lte=now, approval_state__in=WAITING)
               .values_list("pk", flat=True)[:1000])
    failed = 0
    for pk in ids:
        with transaction.atomic():
            if SocialPost.objects.filter(pk=pk, status=S.SCHEDULED, approval_state__in=WAITING).update(
                    status=S.FAILED, error=NOT_APPROVED_MESSAGE, error_kind=K.NOT_APPROVED, next_attempt_at=None,
                    updated_at=now):
                failed += 1
                history_record(SocialPost(pk=pk), action="held it back: not approved in time", by=None)
    return failed


def due_posts(*, now, limit):
    """Ids of SCHEDULED posts whose time has come (served by the partial index post_due_idx)."""
    return list(posts_due(now=now).order_by("scheduled_at", "pk").values_list("pk", flat=True)[:limit])


def posts_fail_missed(*, now):
    """SCHEDULED posts overdue by more than the window are failed, never published late."""
    check_transition(S.SCHEDULED, S.FAILED, action="fail")
    cutoff = now - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS)
    missed = SocialPost.objects.filter(status=S.SCHEDULED, scheduled_at__lt=cutoff)
    if not missed.exists():  # the common case: one index probe, no UPDATE
        return 0
    with transaction.atomic():
        ids = list(missed.select_for_update(skip_locked=True).values_list("pk", flat=True))
        failed = SocialPost.objects.filter(pk__in=ids, status=S.SCHEDULED).update(
            status=S.FAILED, error=MISSED_MESSAGE, error_kind=K.MISSED, next_attempt_at=None, updated_at=now)
        # One history row each, in one INSERT; the actor is the system (the historical rows' default).
        with acting(None):
            SocialPost.history.bulk_history_create(list(SocialPost.objects.filter(pk__in=ids, error_kind=K.MISSED)),
                                                   update=True,
                                                   default_change_reason="could not publish it: missed its time")
    return failed


def _claim_changes(now):
    # A claim is not a start: publishing_started_at stays empty until the task takes the claim up.
    return {"status": S.PUBLISHING, "claimed_at": now, "first_claimed_at": Coalesce(F("first_claimed_at"), now),
            "publishing_started_at": None, "attempts": F("attempts") + 1, "updated_at": now}


def post_claim(*, post_id, now):
    """SCHEDULED → PUBLISHING for exactly one caller; returns the claim time or None when another won."""
    check_transition(S.SCHEDULED, S.PUBLISHING, action="publish")
    won = posts_due(now=now).filter(pk=post_id).update(**_claim_changes(now))
    return now if won else None


def posts_claim_batch(*, now, size):
    """Claim up to ``size`` due posts in one statement pair; rows another scanner holds are skipped."""
    check_transition(S.SCHEDULED, S.PUBLISHING, action="publish")
    with transaction.atomic():
        ids = list(posts_due(now=now).order_by("scheduled_at", "pk").select_for_update(skip_locked=True)
                   .values_list("pk", flat=True)[:size])
        if not ids:
            return []
        won = list(SocialPost.objects.filter(pk__in=ids, status=S.SCHEDULED)
                   .values_list("pk", flat=True))
        SocialPost.objects.filter(pk__in=won).update(**_claim_changes(now))
        enqueue_publish_many([(pk, now) for pk in won])
    return won


def enqueue_publish(*, post_id, claimed_at=None):
    """After commit, hand the claimed post to the publish task."""
    if claimed_at is None:
        claimed_at = SocialPost.objects.filter(pk=post_id).values_list("claimed_at", flat=True).first()
    enqueue_publish_many([(post_id, claimed_at)])


def enqueue_publish_many(claims):
    """One publish task per claim, sent after the claim commits, over one broker connection.

    The task is named, not imported, so the tasks module stays on top of this one."""
    messages = [{"post_id": str(post_id), "claimed_at": claimed_at.isoformat() if claimed_at else None}
                for post_id, claimed_at in claims]
    if not messages:
        return

    def send():
        if current_app.conf.task_always_eager:
            for kwargs in messages:
                current_app.signature(PUBLISH_TASK, kwargs=kwargs).apply_async()
            return
        with current_app.producer_or_acquire() as producer:
            for kwargs in messages:
                current_app.signature(PUBLISH_TASK, kwargs=kwargs).apply_async(producer=producer)

    transaction.on_commit(send)


def posts_publish_due(*, now=None, limit=None, budget_seconds=None):
    """The periodic scan: fail missed posts, then claim everything due, batch by batch, until nothing is
    left or the time budget is spent (the next scan carries on); one publish task per claim.

    ``now`` pins the clock (tests); otherwise every batch claims at the current time, so the claim
    time is when the post was really taken.
    """
    pinned = now
    now = now or timezone.now()
    missed = posts_fail_missed(now=now)
    unapproved = posts_fail_unapproved(now=now)
    budget = settings.PUBLISH_SCAN_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    claimed, batches = [], 0
    while True:
        size = settings.PUBLISH_BATCH_SIZE if limit is None else min(settings.PUBLISH_BATCH_SIZE, limit - len(claimed))
        if size <= 0:
            break
        batch = posts_claim_batch(now=pinned or timezone.now(), size=size)
        claimed += batch
        batches += 1
        if len(batch) < size or time.monotonic() >= deadline:
            break
    requeued = posts_requeue_lost(now=now)
    heartbeat_record(name="publish_due_posts", now=now, summary={
        "claimed": len(claimed), "batches": batches, "missed": missed, "unapproved": unapproved, "requeued": requeued,
        "seconds": round(budget - max(deadline - time.monotonic(), 0), 3)})
    return claimed


def posts_requeue_lost(*, now):
    """Claims whose task never started for PUBLISH_QUEUED_RESEND_AFTER_SECONDS (the queue message was
    lost): the platform was never called for them, so they get a fresh claim and task — no look-up."""
    cutoff = now - timedelta(seconds=settings.PUBLISH_QUEUED_RESEND_AFTER_SECONDS)
    lost = list(SocialPost.objects.filter(status=S.PUBLISHING, publishing_started_at__isnull=True,
                                          claimed_at__lt=cutoff).values_list("pk", "claimed_at")[:1000])
    resent = []
    with transaction.atomic():
        for pk, old in lost:
            if SocialPost.objects.filter(pk=pk, status=S.PUBLISHING, publishing_started_at__isnull=True,
                                         claimed_at=old).update(claimed_at=now, updated_at=now):
                resent.append((pk, now))
        enqueue_publish_many(resent)
    if resent:
        logger.warning("%d claimed posts never started publishing; sent their tasks again", len(resent))
    return len(resent)


# ----------------------------------------------------------------------------- publishing


def _finish(post, *, action, to, now, **changes):
    """PUBLISHING → ``to``, only if the post is still publishing (the reconciler may have settled it)."""
    check_transition(S.PUBLISHING, to, action=action)
    changes.update(status=to, updated_at=now)
    if to == S.PUBLISHED:  # the metric sync reads it at its next run, then on the cadence
        changes.setdefault("metrics_next_sync_at", changes.get("published_at") or now)
    won = SocialPost.objects.filter(pk=post.pk, status=S.PUBLISHING).update(**changes)
    if won:
        for name, value in changes.items():
            setattr(post, name, value)
        if to == S.PUBLISHED:  # the row was loaded for this attempt and only this task writes it while publishing
            history_record(post, action="published it", by=None, as_written=True)
        elif to == S.FAILED:  # progress saved during the attempt is not on ``post``: read the row back
            history_record(post, action="could not publish it", by=None)
    else:
        logger.warning("post %s was no longer publishing when its outcome (%s) arrived", post.pk, to)
    return bool(won)


def _needs_reconnecting(message):
    """An auth failure's message saying, once, that the connection needs reconnecting; the platform's words last."""
    sentence, said = split_platform_words(message)
    if "connect" not in sentence.lower():
        sentence = f"{sentence} The connection needs reconnecting."
    return f"{sentence} ({said})" if said else sentence


def _fail(post, *, kind, message, now):
    logger.info("post %s failed (%s): %s", post.pk, kind, message)
    won = _finish(post, action="fail", to=S.FAILED, now=now, error=message, error_kind=kind, next_attempt_at=None)
    if won:
        post_failed.send(sender=SocialPost, post=post)
    return won


def backoff_seconds(attempt):
    """Exponential backoff with jitter: base·2^(n-1), capped, then a random 50–100 % of it."""
    base = settings.PUBLISH_BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    capped = min(base, settings.PUBLISH_BACKOFF_MAX_SECONDS)
    return capped * random.uniform(0.5, 1.0)


def _retry_later(post, *, error, kind, now):
    reset_at = getattr(error, "reset_at", None)
    if reset_at is not None and post.scheduled_at and reset_at > post.scheduled_at + timedelta(
            seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS):
        # The platform's limit lasts past the publish window: say so now rather than "missed" later.
        return _fail(post, kind=kind, now=now, message=error.message)
    if post.attempts >= settings.PUBLISH_MAX_ATTEMPTS:
        return _fail(post, kind=kind, now=now,
                     message=f"Gave up after {post.attempts} attempts: {error.message}")
    at = now + timedelta(seconds=backoff_seconds(post.attempts))
    if getattr(error, "retry_after", None):
        at = max(at, now + timedelta(seconds=float(error.retry_after)))
    if reset_at is not None:
        # Never before the platform's reset time; a little jitter so a burst does not return at once.
        at = max(at, reset_at + timedelta(seconds=random.uniform(1, 5)))
    logger.info("post %s will be retried at %s (%s)", post.pk, at.isoformat(), error.message)
    return _finish(post, action="retry", to=S.SCHEDULED, now=now, error=error.message, error_kind=kind,
                   next_attempt_at=at)


def _wait_for_processing(post, *, error, now):
    """The platform is still processing the post's media (Instagram container, Facebook video):
    back to SCHEDULED with a due time, so no worker waits on it; the attempt is given back, as
    nothing failed. The stored publish_state makes the next attempt resume on the same media."""
    at = now + timedelta(seconds=float(error.retry_after or settings.MEDIA_PROCESSING_POLL_INTERVAL))
    logger.info("post %s: media still processing, resumes at %s", post.pk, at.isoformat())
    return _finish(post, action="retry", to=S.SCHEDULED, now=now, error=error.message, error_kind=K.PROCESSING,
                   next_attempt_at=at, attempts=max(post.attempts - 1, 0))


def _save_progress(post_id, progress):
    SocialPost.objects.filter(pk=post_id).update(publish_state=dict(progress))


def media_check(urls):
    """Every media file is reachable, an image or video, and within the size limit (before we publish).

    Our own uploads are checked in storage; any other address goes through the guarded fetcher.
    """
    for url in urls:
        media_fetch(url, read_body=False)


def _consume_claim(post_id, claimed_at):
    """The task takes up its claim once, and records that it started: a redelivered copy (or a copy
    of a claim that was re-sent) finds the claim already started or replaced and stops."""
    started = SocialPost.objects.filter(pk=post_id, status=S.PUBLISHING, publishing_started_at__isnull=True)
    if claimed_at is not None:
        started = started.filter(claimed_at=claimed_at)
    return started.update(publishing_started_at=timezone.now()) == 1


ERROR_KINDS = [
    (PermissionMissing, K.PERMISSION),
    (InvalidContent, K.INVALID_CONTENT),
    (DuplicateContent, K.DUPLICATE),
    (NotFound, K.NOT_FOUND),
]


def _outcome_unknown(post):
    """The last attempt ended in a temporary error the platform may have acted on (a timeout, a 5xx)."""
    return post.attempts > 1 and post.error_kind == K.TRANSIENT


def post_publish(*, post_id, claimed_at=None, now=None):
    """Publish one claimed post; every outcome leaves the row PUBLISHED, SCHEDULED (retry) or FAILED.

    After an attempt whose outcome is unknown, the platform is asked first whether it already has
    the post, so a timeout after the platform accepted it never leads to a second post.
    """
    now = now or timezone.now()
    if not _consume_claim(post_id, claimed_at):
        logger.info("post %s: claim already used or post not publishing; nothing to do", post_id)
        return None
    post = SocialPost.objects.select_related("connection").get(pk=post_id)
    if post.scheduled_at and post.scheduled_at < now - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS):
        _fail(post, kind=K.MISSED, message=MISSED_MESSAGE, now=now)
        return post
    connection = post.connection
    content = post_content(post)
    violations = content_violations(platform=connection.platform, content=content)
    if violations:
        _fail(post, kind=K.INVALID_CONTENT, message=" ".join(v.message for v in violations), now=now)
        return post
    try:
        earlier = None
        if _outcome_unknown(post):
            earlier, sure = _published_copy(post)
            if earlier is None and not sure:
                raise TransientError("Could not yet tell whether the platform already has this post "
                                     "(its recent posts could not all be read); it will be checked again.",
                                     platform=connection.platform)
        if earlier is None:
            progress = dict(post.publish_state or {})
            if not progress:  # a resumed attempt's media is already with the platform
                media_check(content.media_urls)
            result = connection_call(
                connection=connection,
                operation=lambda adapter, credentials: adapter.publish_resuming(
                    credentials=credentials, content=content, progress=progress,
                    checkpoint=lambda: _save_progress(post.pk, progress)))
    except ProcessingPending as exc:
        _wait_for_processing(post, error=exc, now=now)
    except ConnectionUnusable as exc:
        _fail(post, kind=K.AUTH, message=str(exc), now=now)
    except TokenUnreadable as exc:  # already says to reconnect; the connection is marked
        _fail(post, kind=K.AUTH, message=exc.message, now=now)
    except AuthExpired as exc:
        _fail(post, kind=K.AUTH, message=_needs_reconnecting(exc.message), now=now)
    except RateLimited as exc:
        _retry_later(post, error=exc, kind=K.RATE_LIMITED, now=now)
    except TransientError as exc:
        _retry_later(post, error=exc, kind=K.TRANSIENT, now=now)
    except PlatformError as exc:
        kind = next((k for cls, k in ERROR_KINDS if isinstance(exc, cls)), K.OTHER)
        _fail(post, kind=kind, message=exc.message, now=now)
    else:
        if earlier is not None:
            _record_found(post, earlier, now=now)
        else:
            published_at = timezone.now()
            _finish(post, action="record publication", to=S.PUBLISHED, now=now,
                    platform_post_id=result.platform_post_id, platform_url=result.platform_url,
                    published_at=published_at, publish_lag_seconds=_lag(post, published_at),
                    error=None, error_kind=None, next_attempt_at=None, publish_state={})
    return post


def _lag(post, published_at):
    """Due → live, in seconds (never negative: a post published early by "publish now" has no lag)."""
    if not post.scheduled_at or not published_at:
        return None
    return max((published_at - post.scheduled_at).total_seconds(), 0.0)


# ----------------------------------------------------------------------------- reconciliation


def _look_back_from(post):
    """The platform's copy, if any, was created after the post was first claimed. Platforms keep
    creation times to the second (and clocks differ a little): the bound is that second, less the
    allowed skew."""
    first = post.first_claimed_at or post.claimed_at or post.publishing_started_at
    if first is None:
        return None
    skew = timedelta(seconds=settings.PUBLISH_RECONCILE_CLOCK_SKEW_SECONDS)
    return first.replace(microsecond=0) - skew


def _published_copy(post):
    """(the platform's copy of this post or None, sure): the adapter pages back through the account's
    posts until before the first claim; a post matches only if its text (as the platform keeps it)
    and media are ours, it was created after the claim, and it is not already recorded for another
    of our posts. ``sure`` is False when the look could not reach back that far (listing failed part
    way, or ran out of pages): then "not found" means "not known", never "not there"."""
    since = _look_back_from(post)
    if since is None:
        return None, True
    adapter = get_adapter(post.connection.platform)
    content = post_content(post)
    expected = adapter.render_text(content)
    found = connection_call(
        connection=post.connection,
        operation=lambda adapter, credentials: adapter.posts_since(credentials=credentials, since=since))
    candidates = [r for r in found.posts if adapter.same_post(text=expected, media_count=len(content.media_urls),
                                                              created_after=since, remote=r)]
    if candidates:
        taken = set(SocialPost.objects.filter(
            connection__platform=post.connection.platform, connection__account_id=post.connection.account_id,
            platform_post_id__in=[r.platform_post_id for r in candidates]).exclude(pk=post.pk)
            .values_list("platform_post_id", flat=True))
        candidates = [r for r in candidates if r.platform_post_id not in taken]
    if candidates:
        return min(candidates, key=lambda r: r.created_at), True  # the earliest: what the first attempt made
    return None, found.complete


def _record_found(post, remote, *, now):
    try:
        with transaction.atomic():
            return _finish(post, action="record publication", to=S.PUBLISHED, now=now,
                           platform_post_id=remote.platform_post_id, platform_url=remote.platform_url,
                           published_at=remote.created_at, publish_lag_seconds=_lag(post, remote.created_at),
                           error=None, error_kind=None, next_attempt_at=None)
    except IntegrityError:
        # Another of our posts recorded that platform post in the meantime: it is not ours.
        logger.warning("post %s: the matching platform post was recorded for another post meanwhile", post.pk)
        return False


UNSURE_MESSAGE = ("Could not tell whether the platform has this post: its recent posts could not all be read "
                  "before the publish window closed. Check the account before publishing it again.")


def post_reconcile(*, post, now):
    """A post whose publish task started and then went silent: published if the platform has it,
    retried if the platform surely does not, held (checked again later) when that cannot be told."""
    started = post.publishing_started_at
    # Claim the reconciliation itself, so two reconcilers never both retry the post.
    if not SocialPost.objects.filter(pk=post.pk, status=S.PUBLISHING, publishing_started_at=started).update(
            publishing_started_at=now):
        return None
    post.publishing_started_at = now
    try:
        match, sure = _published_copy(post)
    except (ConnectionUnusable, AuthExpired) as exc:
        _fail(post, kind=K.AUTH, message=f"Could not check whether the post was published: {exc}", now=now)
        return "failed"
    except PlatformError as exc:
        logger.warning("post %s: could not list recent posts (%s); will check again", post.pk, exc.message)
        match, sure = None, False
    if match is not None:
        return "published" if _record_found(post, match, now=now) else "unknown"
    if not sure:
        if post.scheduled_at and post.scheduled_at < now - timedelta(seconds=settings.PUBLISH_MISSED_WINDOW_SECONDS):
            _fail(post, kind=K.OTHER, message=UNSURE_MESSAGE, now=now)
            return "failed"
        return "unknown"  # held: still PUBLISHING, looked at again after PUBLISH_STUCK_AFTER_SECONDS
    if post.attempts >= settings.PUBLISH_MAX_ATTEMPTS:
        _fail(post, kind=K.TRANSIENT, now=now,
              message=f"Gave up after {post.attempts} attempts: the publishing worker stopped before finishing.")
        return "failed"
    _finish(post, action="retry", to=S.SCHEDULED, now=now, next_attempt_at=now,
            error="The publishing worker stopped before finishing; the platform does not have the post, "
                  "so it will be tried again.", error_kind=K.TRANSIENT)
    return "retried"


def posts_reconcile_stuck(*, now=None):
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PUBLISH_STUCK_AFTER_SECONDS)
    # Only posts whose task started and went silent: a claim still waiting in the queue was never sent.
    stuck = SocialPost.objects.select_related("connection").filter(
        status=S.PUBLISHING, publishing_started_at__isnull=False, publishing_started_at__lt=cutoff,
    ).order_by("publishing_started_at")[:200]
    outcomes = {}
    for post in stuck:
        outcome = post_reconcile(post=post, now=now)
        if outcome:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    heartbeat_record(name="reconcile_stuck_posts", summary=outcomes, now=now)
    return outcomes
