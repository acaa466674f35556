"""Notifications to staff: one row per event occurrence, one delivery per person, and each person's choices."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class NotificationKind(models.TextChoices):
    POST_FAILED = "POST_FAILED", "A post failed to publish"
    CONNECTION_RECONNECT = "CONNECTION_RECONNECT", "A connection needs reconnecting"
    CONNECTION_EXPIRING = "CONNECTION_EXPIRING", "A connection's sign-in runs out soon"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED", "A post waits for approval"
    APPROVAL_DECIDED = "APPROVAL_DECIDED", "A post was approved or sent back"


class Notification(models.Model):
    """Something staff need to know, raised once per (kind, subject, occurrence): a second report of the same
    failure finds this row and sends nothing. Resolved when its subject is fine again (the post retried or
    published, the connection reconnected)."""

    club_path = "club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="notifications")
    club = models.ForeignKey("crm.Club", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    # What the notification is about, as "post:<id>" or "connection:<id>", and which occurrence of the event.
    subject = models.CharField(max_length=80)
    occurrence = models.CharField(max_length=80)
    post = models.ForeignKey("posts.SocialPost", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="notifications")
    connection = models.ForeignKey("connections.SocialConnection", on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="notifications")
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True, help_text="The staff page where it can be dealt with.")
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "subject", "occurrence"], name="notification_once_per_occurrence"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="notification_tenant_recent_idx"),
            models.Index(fields=["subject"], condition=Q(resolved_at__isnull=True), name="notification_open_idx"),
        ]

    def __str__(self):
        return self.title


class NotificationDelivery(models.Model):
    """One person's copy of a notification: whether it was emailed, put in a digest, dismissed."""

    tenant_path = "notification__tenant"
    club_path = "notification__club"
    club_may_be_empty = True

    id = models.BigAutoField(primary_key=True)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_deliveries")
    email_wanted = models.BooleanField(default=False)
    digest_wanted = models.BooleanField(default=False)
    # The email is claimed before it is sent, so a retried or duplicated task never sends it twice.
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "notification deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "user"], name="notification_delivery_once_per_user"),
        ]
        indexes = [
            models.Index(fields=["user", "dismissed_at"], name="notification_delivery_user_idx"),
            models.Index(fields=["created_at"], condition=Q(digest_wanted=True, digested_at__isnull=True),
                         name="notification_digest_due_idx"),
        ]

    def __str__(self):
        return f"{self.notification} → {self.user}"


class NotificationPreference(models.Model):
    """A person's choice for one kind of notification; without a row: email on, no digest."""

    tenant_path = "user__membership__tenant"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    email = models.BooleanField(default=True, help_text="Send an email as soon as it happens.")
    digest = models.BooleanField(default=False, help_text="Include it in one summary email a day.")

    class Meta:
        ordering = ["kind"]
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once")]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()}"
