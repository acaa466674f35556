import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from crm.history import tracked_history
from crm.validators import validate_int_list, validate_str_list
from promotions.templating import SOCIAL, help_text, validate_social_text
from socialcrm.inputs import distinct_items, moment_in_range


class EventSourceType(models.TextChoices):
    COMPETITION = "COMPETITION", "Competition"
    CLUB_EVENT = "CLUB_EVENT", "Club event"
    SPECIAL = "SPECIAL", "Special"


class Channel(models.TextChoices):
    # Staff see the label, never the stored code.
    EMAIL = "EMAIL", "Email"
    SMS = "SMS", "Text message (SMS)"
    SOCIAL = "SOCIAL", "Social posts"


def channel_names(codes):
    """The channels' names as staff read them, in the order given (unknown codes left out)."""
    return [Channel(code).label for code in codes or () if code in Channel.values]


class EventStatus(models.TextChoices):
    SCHEDULED = "SCHEDULED", "Scheduled"
    CANCELLED = "CANCELLED", "Cancelled"


def default_reminder_days():
    return [7, 3, 1]


def validate_channels(value):
    validate_str_list(value)
    unknown = sorted(set(value) - set(Channel.values))
    if unknown:
        raise ValidationError(f"Unknown channel(s): {', '.join(unknown)}. Choose from {', '.join(Channel.values)}.")
    distinct_items(value, what="channel")


def validate_reminder_days(value):
    validate_int_list(value)
    if any(day < 1 or day > 365 for day in value):
        raise ValidationError("Reminder days must be between 1 and 365 days before the event.")
    distinct_items(value, what="reminder day")


def validate_event_time(value):
    """Keeps every planned moment (days before, in any club's timezone) far from the calendar's ends.

    The range is the product's one rule for times (``socialcrm.inputs``: INPUT_EARLIEST_YEAR and
    INPUT_HORIZON_YEARS), whether the time comes from a page, the API or a signed event.
    """
    if value is not None:
        moment_in_range(value)


class EventPromotion(models.Model):
    """How one event or tournament is promoted (seed: EventPromotion), with the event's own details."""

    club_path = "club"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="promotions")
    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, related_name="promotions", db_index=False)

    source_type = models.CharField(max_length=16, choices=EventSourceType.choices)
    source_id = models.CharField(max_length=255, help_text="The competition's or event's id in its own system.")

    auto_promote = models.BooleanField(default=True)
    channels = models.JSONField(default=list, validators=[validate_channels])

    announce_at = models.DateTimeField(null=True, blank=True, help_text="Empty: announce at once.")
    reminder_days = models.JSONField(default=default_reminder_days, validators=[validate_reminder_days])

    segment = models.ForeignKey(
        "crm.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="promotions",
        help_text="Empty: every member of the club.",
    )
    target_radius = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(20000)],
        help_text="Only members within this many km of the club.",
    )

    email_template = models.ForeignKey(
        "crm.MessageTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        limit_choices_to={"channel": "EMAIL"},
    )
    sms_template = models.ForeignKey(
        "crm.MessageTemplate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        limit_choices_to={"channel": "SMS"},
    )
    social_content = models.TextField(
        null=True, blank=True, validators=[validate_social_text],
        help_text="Leave empty for a text built from the event. " + help_text(SOCIAL),
    )
    campaign = models.ForeignKey(
        "crm.Campaign", on_delete=models.SET_NULL, null=True, blank=True, related_name="promotions"
    )

    is_active = models.BooleanField(default=True)
    last_promoted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=150)

    # The promoted event itself: reminders are "N days before" it.
    event_name = models.CharField(max_length=255)
    event_starts_at = models.DateTimeField()
    event_location = models.CharField(max_length=255, blank=True)
    event_url = models.URLField(max_length=2000, blank=True)
    event_image_url = models.URLField(max_length=2000, blank=True)
    event_status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.SCHEDULED)

    history = tracked_history()

    class Meta:
        ordering = ["event_starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source_type", "source_id"], name="promotion_tenant_source_uniq"),
        ]
        indexes = [
            models.Index(fields=["tenant", "club"], name="promo_tenant_club_idx"),
            models.Index(fields=["tenant", "is_active"], name="promo_tenant_active_idx"),
        ]

    def __str__(self):
        return self.event_name

    @property
    def channel_names(self):
        return channel_names(self.channels)


class DispatchKind(models.TextChoices):
    ANNOUNCEMENT = "ANNOUNCEMENT", "Announcement"
    REMINDER = "REMINDER", "Reminder"


class DispatchStatus(models.TextChoices):
    PLANNED = "PLANNED", "Planned"
    SENDING = "SENDING", "Sending"
    HELD = "HELD", "Held"
    SENT = "SENT", "Sent"
    SKIPPED = "SKIPPED", "Skipped"
    CANCELLED = "CANCELLED", "Cancelled"
    FAILED = "FAILED", "Failed"


# Statuses whose dispatch has not gone out yet: what a cancellation or deactivation stops.
PENDING_DISPATCH_STATUSES = (DispatchStatus.PLANNED, DispatchStatus.HELD)


class PromotionDispatch(models.Model):
    """One planned send: the announcement or the reminder N days before, on one channel."""

    club_path = "promotion__club"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    promotion = models.ForeignKey(EventPromotion, on_delete=models.CASCADE, related_name="dispatches")
    kind = models.CharField(max_length=16, choices=DispatchKind.choices)
    days_before = models.PositiveSmallIntegerField(default=0, help_text="0 for the announcement.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    scheduled_for = models.DateTimeField()
    status = models.CharField(max_length=16, choices=DispatchStatus.choices, default=DispatchStatus.PLANNED)
    status_reason = models.TextField(blank=True)
    planned_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Held SMS (quiet hours) or deliveries put back for a retry: when the dispatcher picks it up again.
    resume_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Set once every recipient has a delivery row and a chunk: until then a re-claim carries on planning.
    planned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "promotion dispatches"
        ordering = ["scheduled_for", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["promotion", "kind", "days_before", "channel"], name="dispatch_step_channel_uniq"),
        ]
        indexes = [
            models.Index(fields=["scheduled_for"], condition=Q(status="PLANNED"), name="dispatch_due_idx"),
            models.Index(fields=["resume_at"], condition=Q(status="HELD"), name="dispatch_held_idx"),
            models.Index(fields=["tenant", "status"], name="dispatch_tenant_status_idx"),
        ]

    def __str__(self):
        step = "announcement" if self.kind == DispatchKind.ANNOUNCEMENT else f"{self.days_before}-day reminder"
        return f"{self.promotion} — {step} by {self.get_channel_display()}"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SENDING = "SENDING", "Sending"
    SENT = "SENT", "Sent"
    SKIPPED = "SKIPPED", "Skipped"
    FAILED = "FAILED", "Failed"


class TrackingStatus(models.TextChoices):
    """What a provider reported about one delivered message, in the order a message moves on."""

    SOFT_BOUNCED = "SOFT_BOUNCED", "Bounced for now"
    DELIVERED = "DELIVERED", "Delivered"
    OPENED = "OPENED", "Opened"
    CLICKED = "CLICKED", "Clicked"
    BOUNCED = "BOUNCED", "Bounced"
    COMPLAINED = "COMPLAINED", "Marked as spam"
    # Texts: the gateway's delivery receipts (promotions/sms_receipts.py).
    UNDELIVERED = "UNDELIVERED", "Not delivered"
    UNREACHABLE = "UNREACHABLE", "Not delivered: the number cannot take texts"


class PromotionDelivery(models.Model):
    """One member's message of one dispatch; unique, so nobody gets the same message twice."""

    tenant_path = "dispatch__tenant"
    club_path = "dispatch__promotion__club"

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (dispatch, member) index leads with it. Every delivery row is written
    # twice (planned, then sent), and each index is one more write each time.
    dispatch = models.ForeignKey(PromotionDispatch, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    member = models.ForeignKey("crm.Member", on_delete=models.CASCADE, related_name="promotion_deliveries")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    reason = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Held (SMS quiet hours) until this time.")
    # What the email provider reported after the send (promotions/email_events.py); the furthest step wins.
    # (A database default too: the planner inserts delivery rows with raw SQL naming only the columns it fills.)
    tracking_status = models.CharField(max_length=16, choices=TrackingStatus.choices, blank=True, default="",
                                       db_default="")
    tracking_at = models.DateTimeField(null=True, blank=True)
    # Texts: how many segments the message took when it went to the gateway (0 for email).
    segments = models.PositiveSmallIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name_plural = "promotion deliveries"
        constraints = [
            models.UniqueConstraint(fields=["dispatch", "member"], name="delivery_dispatch_member_uniq"),
        ]
        indexes = [
            # A chunk's claim walks its member range in order among pending rows only, however large the dispatch.
            # (It replaces (dispatch, status): right after planning, with no statistics yet, PostgreSQL preferred
            # that one and sorted every pending row of the dispatch for each batch; the rarer by-status reads of
            # one dispatch use the unique (dispatch, member) index.)
            models.Index(fields=["dispatch", "member"], condition=Q(status="PENDING"), name="delivery_pending_idx"),
        ]

    def __str__(self):
        return f"{self.member_id} — {self.get_status_display()}"


class ChunkStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    RUNNING = "RUNNING", "Running"
    DONE = "DONE", "Done"


class PromotionSendChunk(models.Model):
    """A slice of one dispatch's recipients (a member-id range) that one task at a time sends, under a lease.

    RUNNING with ``lease_until`` in the past: its worker died; the reaper hands it to another task.
    PENDING with ``lease_until``: when it is due (a retry's moment) or when its queued task should have
    started; PENDING without: waiting for its dispatch to resume (SMS quiet hours).
    """

    tenant_path = "dispatch__tenant"
    club_path = "dispatch__promotion__club"

    id = models.BigAutoField(primary_key=True)
    dispatch = models.ForeignKey(PromotionDispatch, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    first_member_id = models.UUIDField()
    last_member_id = models.UUIDField()
    size = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Bumped by every claim: a worker whose lease was taken over finds out at its next heartbeat.
    claims = models.PositiveIntegerField(default=0)
    # Delivery ids of the batch being sent and not yet recorded: in doubt if the worker dies.
    in_flight = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dispatch", "seq"]
        constraints = [models.UniqueConstraint(fields=["dispatch", "seq"], name="send_chunk_dispatch_seq_uniq")]
        indexes = [
            models.Index(fields=["lease_until"], condition=Q(status__in=["PENDING", "RUNNING"]), name="send_chunk_lease_idx"),
        ]

    def __str__(self):
        return f"{self.dispatch_id} chunk {self.seq} ({self.get_status_display()})"


class InboundEvent(models.Model):
    """A signed event received from the tee-time system or another source; applied once per id."""

    id = models.BigAutoField(primary_key=True)
    # Unique per tenant (see Meta): one tenant's ids can neither collide with nor pre-empt another's.
    event_id = models.CharField(max_length=255)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="inbound_events")
    type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField()
    promotion = models.ForeignKey(EventPromotion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="inbound_tenant_event_uniq")]
        indexes = [models.Index(fields=["tenant", "received_at"], name="inbound_tenant_received_idx")]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class SmsOptOut(models.Model):
    """A STOP-style reply received from a phone number; its members no longer get texts."""

    id = models.BigAutoField(primary_key=True)
    phone = models.CharField(max_length=20, db_index=True)
    text = models.CharField(max_length=160, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    members_opted_out = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "SMS opt-out"

    def __str__(self):
        return f"{self.phone} ({self.text})"


# ---------------------------------------------------------------- provider events and suppressions


class EmailEvent(models.Model):
    """One tracking event from the email provider, applied once: its id is unique per tenant and provider."""

    tenant_path = "tenant"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=16, choices=TrackingStatus.choices)
    delivery = models.ForeignKey(PromotionDelivery, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="email_events")
    address = models.CharField(max_length=254)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "event_id"], name="email_event_tenant_provider_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "address", "occurred_at"], name="email_event_address_idx")]

    def __str__(self):
        return f"{self.get_event_type_display()} — {self.address}"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "HARD_BOUNCE", "The address bounced (it does not exist or refuses mail)"
    COMPLAINT = "COMPLAINT", "The member marked a message as spam"
    SOFT_BOUNCES = "SOFT_BOUNCES", "The address bounced several times in a row"
    SMS_UNREACHABLE = "SMS_UNREACHABLE", "The number cannot take texts (the gateway reported a permanent failure)"


class Suppression(models.Model):
    """An address the tenant no longer sends to on one channel, and why; staff can lift it with a note."""

    tenant_path = "tenant"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=[(Channel.EMAIL, Channel.EMAIL.label), (Channel.SMS, Channel.SMS.label)])
    address = models.CharField(max_length=254, help_text="The email address (lower case) or phone number.")
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    created_at = models.DateTimeField()
    source_event = models.ForeignKey(EmailEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    source_receipt = models.ForeignKey("SmsReceipt", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.CharField(max_length=150, blank=True)
    lift_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One standing suppression per address and channel (the dispatcher's look-up); lifted ones stay as history.
            models.UniqueConstraint(fields=["tenant", "channel", "address"], condition=Q(lifted_at__isnull=True),
                                    name="suppression_active_uniq"),
        ]

    def __str__(self):
        return f"{self.address} ({self.get_channel_display()}): {self.get_reason_display()}"


class SmsReceiptStatus(models.TextChoices):
    DELIVERED = "DELIVERED", "Delivered"
    FAILED = "FAILED", "Not delivered"
    PERMANENT = "PERMANENT", "Not delivered, for good"


class SmsReceipt(models.Model):
    """One signed delivery receipt from the SMS gateway, applied once: its id is unique per tenant."""

    tenant_path = "tenant"

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=SmsReceiptStatus.choices)
    delivery = models.ForeignKey(PromotionDelivery, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="sms_receipts")
    phone = models.CharField(max_length=20)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = "SMS delivery receipt"
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="sms_receipt_tenant_event_uniq")]

    def __str__(self):
        return f"{self.get_status_display()} — {self.phone}"
