import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Cast, Coalesce

from crm.dates import format_moment
from crm.history import tracked_history
from crm.validators import validate_str_list
from platforms.errors import split_platform_words


class SocialPostStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    SCHEDULED = "SCHEDULED", "Scheduled"
    PUBLISHING = "PUBLISHING", "Publishing"
    PUBLISHED = "PUBLISHED", "Published"
    FAILED = "FAILED", "Failed"


class PublishErrorKind(models.TextChoices):
    TRANSIENT = "TRANSIENT", "Temporary platform problem"
    RATE_LIMITED = "RATE_LIMITED", "Rate limited"
    AUTH = "AUTH", "Connection needs reconnecting"
    PERMISSION = "PERMISSION", "Missing permission"
    INVALID_CONTENT = "INVALID_CONTENT", "Content refused"
    DUPLICATE = "DUPLICATE", "Duplicate content"
    NOT_FOUND = "NOT_FOUND", "Not found"
    MISSED = "MISSED", "Missed its publish time"
    PROCESSING = "PROCESSING", "Waiting for the platform to process media"
    NOT_APPROVED = "NOT_APPROVED", "Not approved in time"
    OTHER = "OTHER", "Other"


class ApprovalState(models.TextChoices):
    """Where a post stands with its approvers, beside its status (the tenant setting posts_need_approval)."""

    NOT_NEEDED = "not_needed", "No approval needed"
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


# Where a post stands in the lists (newest first): its publish time, and posts with none (drafts) before every
# dated one, as "-scheduled_at" puts them on PostgreSQL. Never NULL, so a list position is one row comparison.
NO_TIME = Cast(Value("infinity"), models.DateTimeField())
LIST_AT = Coalesce("scheduled_at", NO_TIME, output_field=models.DateTimeField())


# The fields of a post a network's version may set apart from its composition's base.
VERSION_FIELDS = ("content", "hashtags", "link_url", "media_urls")


class Composition(models.Model):
    """One post written once for several networks: the base text, hashtags, link and media.

    Each of its ``versions`` is the SocialPost published to one connection, holding that network's
    resolved text; ``SocialPost.overridden_fields`` names the fields a version sets apart from the base.
    """

    club_path = "club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="compositions")
    # The club all its accounts belong to; empty when they serve the whole tenant or several clubs.
    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="compositions", db_index=False)
    campaign = models.ForeignKey("crm.Campaign", on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="compositions", db_index=False)
    content = models.TextField(blank=True)
    hashtags = models.JSONField(default=list, blank=True, validators=[validate_str_list])
    link_url = models.URLField(max_length=2000, null=True, blank=True)
    media_urls = models.JSONField(default=list, blank=True, validators=[validate_str_list])
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="composition_tenant_idx"),
            models.Index(fields=["club"], name="composition_club_idx"),
            models.Index(fields=["campaign"], name="composition_campaign_idx"),
        ]

    def __str__(self):
        return (self.content[:60] + "…") if len(self.content) > 60 else (self.content or "(no text)")


class SocialPost(models.Model):
    """One post on one connection (seed: SocialPost)."""

    club_path = "connection__club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="social_posts")
    connection = models.ForeignKey(
        "connections.SocialConnection", on_delete=models.CASCADE, related_name="posts", db_index=False
    )
    campaign = models.ForeignKey(
        "crm.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="social_posts", db_index=False
    )

    content = models.TextField()
    media_urls = models.JSONField(default=list, blank=True, validators=[validate_str_list])
    link_url = models.URLField(max_length=2000, null=True, blank=True)
    hashtags = models.JSONField(default=list, blank=True, validators=[validate_str_list])

    status = models.CharField(max_length=16, choices=SocialPostStatus.choices, default=SocialPostStatus.DRAFT)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    platform_post_id = models.CharField(max_length=255, null=True, blank=True)
    platform_url = models.URLField(max_length=2000, null=True, blank=True)
    error = models.TextField(null=True, blank=True)

    likes = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    shares = models.IntegerField(default=0)
    reach = models.IntegerField(default=0)
    impressions = models.IntegerField(default=0)
    engagement_synced_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=150)

    # Publish bookkeeping (beyond the seed): attempts, when the next one may run, why the last failed.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=16, choices=PublishErrorKind.choices, null=True, blank=True)
    # When the publish task started working on the current claim (None while the claim waits in the queue):
    # the reconciler only asks the platform about posts whose task started and then went silent.
    publishing_started_at = models.DateTimeField(null=True, blank=True)
    # What the platform already holds for an unfinished publish (Instagram container ids, a Facebook
    # video id, LinkedIn image and video URNs), so a retry resumes waiting on that media instead of
    # creating it again.
    publish_state = models.JSONField(default=dict, blank=True)
    # Metric fields (above) never read from the platform yet: shown as "not available", not 0.
    metrics_unknown = models.JSONField(default=list, blank=True, validators=[validate_str_list])
    # Publishing at scale: when the scan claimed the post for the current attempt (the publish
    # task's token), when it was first claimed (the reconciler looks at the platform back to then), and how
    # long after its due time it went live.
    claimed_at = models.DateTimeField(null=True, blank=True)
    first_claimed_at = models.DateTimeField(null=True, blank=True)
    publish_lag_seconds = models.FloatField(null=True, blank=True)
    # When the metric sync next reads this post (NULL: not followed: past the window, or its counts
    # stopped changing), and how many syncs in a row found the counts unchanged.
    metrics_next_sync_at = models.DateTimeField(null=True, blank=True)
    metrics_unchanged_syncs = models.PositiveSmallIntegerField(default=0, db_default=0)
    # Set when a promotion's dispatch created this post, so a re-run never makes a second one.
    dispatch = models.ForeignKey(
        "promotions.PromotionDispatch", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="social_posts", db_index=False,
    )
    # Approval, beside the status: who asked, who decided, and what they said.
    approval_state = models.CharField(max_length=20, choices=ApprovalState.choices, default=ApprovalState.NOT_NEEDED,
                                      db_default=ApprovalState.NOT_NEEDED)
    approval_requested_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True,
                                              related_name="+", db_index=False)
    approval_requested_at = models.DateTimeField(null=True, blank=True)
    approval_decided_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True,
                                            related_name="+", db_index=False)
    approval_decided_at = models.DateTimeField(null=True, blank=True)
    approval_comment = models.TextField(blank=True, default="")

    history = tracked_history()

    # The composition this post is one network's version of (None: a post written on its own), and
    # which of VERSION_FIELDS it sets apart from the composition's base (the rest follow base edits).
    composition = models.ForeignKey(Composition, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="versions", db_index=False)
    overridden_fields = models.JSONField(default=list, blank=True, validators=[validate_str_list])

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        indexes = [
            models.Index(fields=["composition"], condition=Q(composition__isnull=False), name="post_composition_idx"),
            models.Index(fields=["tenant", "status"], name="post_tenant_status_idx"),
            # The lists (API and staff page) in their order, (list time, created, id) newest first, which is
            # unique: a page after a cursor is an index seek, with or without a status filter.
            models.Index(F("tenant"), LIST_AT.desc(), F("created_at").desc(), F("id").desc(), name="post_tenant_list_idx"),
            models.Index(F("tenant"), F("status"), LIST_AT.desc(), F("created_at").desc(), F("id").desc(),
                         name="post_tenant_status_list_idx"),
            models.Index(fields=["tenant", "scheduled_at"], name="post_tenant_scheduled_idx"),
            models.Index(fields=["connection"], name="post_connection_idx"),
            models.Index(fields=["campaign"], name="post_campaign_idx"),
            models.Index(fields=["tenant"], condition=Q(approval_state="pending"), name="post_awaiting_approval_idx"),
            # The publisher's scan for due posts across all tenants.
            models.Index(fields=["scheduled_at"], condition=Q(status="SCHEDULED"), name="post_due_idx"),
            # Stuck-post reconciliation and metric sync scans.
            models.Index(fields=["publishing_started_at"], condition=Q(status="PUBLISHING"), name="post_publishing_idx"),
            models.Index(fields=["published_at"], condition=Q(status="PUBLISHED"), name="post_published_idx"),
            # Claims whose task never started (a lost queue message): re-sent without asking the platform.
            models.Index(fields=["claimed_at"], condition=Q(status="PUBLISHING", publishing_started_at__isnull=True),
                         name="post_queued_idx"),
            # The metric sync: which connections have due posts, then each connection's due posts in
            # order. Only followed posts are in these indexes, never the whole window.
            models.Index(fields=["metrics_next_sync_at", "connection"], name="post_metrics_due_idx",
                         condition=Q(status="PUBLISHED", metrics_next_sync_at__isnull=False)),
            models.Index(fields=["connection", "metrics_next_sync_at", "id"], name="post_metrics_conn_due_idx",
                         condition=Q(status="PUBLISHED", metrics_next_sync_at__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dispatch", "connection"], condition=Q(dispatch__isnull=False), name="post_dispatch_connection_uniq"
            ),
            # One platform post is recorded for at most one of our posts: reconciliation can never give two
            # posts the same live copy.
            models.UniqueConstraint(
                fields=["connection", "platform_post_id"], condition=Q(platform_post_id__isnull=False),
                name="post_connection_platform_id_uniq"
            ),
        ]

    def __str__(self):
        return (self.content[:60] + "…") if len(self.content) > 60 else self.content

    @property
    def error_summary(self):
        """The error's plain sentence, for the main message."""
        return split_platform_words(self.error or "")[0]

    @property
    def error_detail(self):
        """What the platform itself said, if anything: shown apart, as detail."""
        return split_platform_words(self.error or "")[1]


class PostMetricSnapshot(models.Model):
    """Engagement as read at one sync, kept so staff can see a post's metrics over time."""

    tenant_path = "post__tenant"
    club_path = "post__connection__club"
    club_may_be_empty = True

    post = models.ForeignKey(SocialPost, on_delete=models.CASCADE, related_name="metric_snapshots")
    taken_at = models.DateTimeField()
    likes = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    shares = models.IntegerField(default=0)
    reach = models.IntegerField(default=0)
    impressions = models.IntegerField(default=0)
    # Metrics the platform did not give at this sync (their fields above hold 0, meaning nothing).
    unknown = models.JSONField(default=list, blank=True, validators=[validate_str_list])

    class Meta:
        ordering = ["post", "taken_at"]
        indexes = [models.Index(fields=["post", "taken_at"], name="metric_post_taken_idx")]

    def __str__(self):
        return f"Metrics of {self.post_id} at {format_moment(self.taken_at)}"


class MetricReadUsage(models.Model):
    """Platform calls the metric sync made for one tenant, per month and platform (the read budget's spend)."""

    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="metric_read_usage")
    month = models.DateField(help_text="First day of the month (UTC).")
    platform = models.CharField(max_length=16)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-month", "platform"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month", "platform"], name="metric_usage_uniq")]
        verbose_name = "metric read usage"
        verbose_name_plural = "metric read usage"

    def __str__(self):
        return f"{self.tenant_id} {self.month:%Y-%m} {self.platform}: {self.calls} calls"


class SchedulerHeartbeat(models.Model):
    """When each periodic job last ran, shown on the dashboard."""

    name = models.CharField(primary_key=True, max_length=64)
    last_run_at = models.DateTimeField()
    last_summary = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return self.name


class CalendarFeed(models.Model):
    """A staff member's private calendar feed (ICS): the secret address is shown once; only its hash is kept."""

    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="calendar_feeds")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_read_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Calendar feed of {self.user}"

    def __repr__(self):
        return f"<CalendarFeed {self.pk} user={self.user_id}>"
