"""Stand-ins for what the wider CRM owns: tenants, clubs, members, segments, campaigns, templates.

They are kept minimal; the social module only needs what it reads from them.
"""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from rest_framework.authtoken.models import TokenProxy
from timezone_field import TimeZoneField

from crm.validators import validate_day_in_range, validate_e164, validate_int_list
from promotions import templating


def new_event_secret():
    return secrets.token_urlsafe(32)


class TimeLocale(models.TextChoices):
    """How staff pages write dates and times; the locale decides the clock style (see crm/dates.py)."""

    EN_GB = "en-GB", "English (UK), 24-hour clock"
    EN_IE = "en-IE", "English (Ireland), 24-hour clock"
    EN_US = "en-US", "English (US), 12-hour clock"
    EN_AU = "en-AU", "English (Australia), 12-hour clock"


def default_promotion_channels():
    return ["EMAIL", "SMS", "SOCIAL"]


def default_reminder_days():
    return [7, 3, 1]


class Tenant(models.Model):
    tenant_path = "pk"

    id = models.CharField(primary_key=True, max_length=64)
    name = models.CharField(max_length=200)
    inbound_event_secret = models.CharField(
        max_length=128,
        default=new_event_secret,
        help_text="Shared secret that signs events sent by the tee-time system and other sources.",
    )
    default_channels = models.JSONField(default=default_promotion_channels)
    default_reminder_days = models.JSONField(default=default_reminder_days, validators=[validate_int_list])
    default_send_time = models.TimeField(default="09:00")
    auto_promote = models.BooleanField(
        default=True, help_text="Promote published competitions and club events automatically."
    )
    metrics_monthly_read_budget = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Platform calls the metric sync may make per month for this tenant; empty: the site default "
                  "(METRICS_MONTHLY_READ_BUDGET), 0: unlimited.",
    )
    time_locale = models.CharField(
        max_length=8, choices=TimeLocale.choices, default=TimeLocale.EN_GB, verbose_name="date and time style",
        help_text="How times are written for rows that serve the whole tenant (no club).",
    )
    posts_need_approval = models.BooleanField(
        default=False,
        help_text="Posts written by staff wait for a tenant admin or one of the club's approvers before they "
                  "can be scheduled or published.",
    )
    # What one SMS segment costs the tenant at its gateway: the estimate shown before a promotion is saved.
    sms_price_per_segment = models.DecimalField(
        max_digits=8, decimal_places=4, null=True, blank=True,
        help_text="Price of one SMS segment at the gateway; empty: no cost estimate is shown.",
    )
    sms_price_currency = models.CharField(max_length=3, default="EUR", help_text="ISO 4217 code, e.g. EUR or GBP.")
    # Tracked links: UTM parameters added to links in posts, emails and texts.
    utm_enabled = models.BooleanField(default=True, verbose_name="add UTM parameters to links")
    utm_medium_social = models.CharField(max_length=50, default="social", verbose_name="UTM medium for posts")
    utm_medium_email = models.CharField(max_length=50, default="email", verbose_name="UTM medium for emails")
    utm_medium_sms = models.CharField(max_length=50, default="sms", verbose_name="UTM medium for texts")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Club(models.Model):
    club_path = "pk"

    id = models.CharField(primary_key=True, max_length=64, default=uuid.uuid4)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clubs")
    name = models.CharField(max_length=200)
    timezone = TimeZoneField(default="UTC")
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    default_send_time = models.TimeField(
        null=True, blank=True, help_text="Local time reminders go out; the tenant's default when empty."
    )
    time_locale = models.CharField(
        max_length=8, choices=TimeLocale.choices, default=TimeLocale.EN_GB, verbose_name="date and time style",
        help_text="How staff pages, the admin and charts write this club's dates and times (24-hour or 12-hour clock).",
    )

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["tenant", "name"], name="club_tenant_name_idx")]

    def __str__(self):
        return self.name

    @property
    def send_time(self):
        return self.default_send_time or self.tenant.default_send_time


class Member(models.Model):
    club_path = "club"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    club = models.ForeignKey(Club, on_delete=models.CASCADE, related_name="members")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164], help_text="E.164, e.g. +447700900123")
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    email_consent = models.BooleanField(default=False)
    sms_consent = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["tenant", "club"], name="member_tenant_club_idx")]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()


class Segment(models.Model):
    club_path = "club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="segments")
    club = models.ForeignKey(Club, on_delete=models.CASCADE, null=True, blank=True, related_name="segments")
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(Member, related_name="segments", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Campaign(models.Model):
    club_path = "club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="campaigns")
    club = models.ForeignKey(Club, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaigns")
    name = models.CharField(max_length=200)
    starts_on = models.DateField(null=True, blank=True, validators=[validate_day_in_range])
    ends_on = models.DateField(null=True, blank=True, validators=[validate_day_in_range])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        indexes = [models.Index(fields=["tenant", "starts_on"], name="campaign_tenant_start_idx")]

    def __str__(self):
        return self.name


class TemplateChannel(models.TextChoices):
    EMAIL = "EMAIL", "Email"
    SMS = "SMS", "SMS"


class MessageTemplate(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="message_templates")
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=5, choices=TemplateChannel.choices)
    subject = models.CharField(max_length=200, blank=True,
                               help_text="Email only; a template like the body. Empty: the event's name.")
    body = models.TextField(help_text=templating.help_text())

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_channel_display()})"

    def clean(self):
        # The admin and any ModelForm run this: a template the sandbox would refuse is never saved.
        super().clean()
        place = {TemplateChannel.EMAIL: templating.EMAIL, TemplateChannel.SMS: templating.SMS}.get(self.channel)
        if place is None:
            return
        errors = {}
        for name in ("subject", "body"):
            value = getattr(self, name) or ""
            problems = templating.template_problems(value, place=place) if value or name == "body" else []
            if problems:
                errors[name] = problems
        if errors:
            raise ValidationError(errors)


class StaffRole(models.TextChoices):
    ADMIN = "ADMIN", "Tenant admin"
    STAFF = "STAFF", "Staff"


class StaffMembership(models.Model):
    """Ties a login to one tenant; staff may be limited to some of its clubs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=5, choices=StaffRole.choices, default=StaffRole.STAFF)
    clubs = models.ManyToManyField(
        Club, blank=True, related_name="staff", help_text="Leave empty for access to every club of the tenant."
    )
    approver_for_clubs = models.ManyToManyField(
        Club, blank=True, related_name="approvers",
        help_text="Clubs whose posts this person may approve (tenant admins approve every club's posts).",
    )

    def __str__(self):
        return f"{self.user} @ {self.tenant_id} ({self.role})"

    @property
    def is_admin(self):
        return self.role == StaffRole.ADMIN


class ApiToken(TokenProxy):
    """A staff login's API token (DRF's row) as the admin shows it: by its user, never by its key.

    The key is the row's primary key, so DRF's proxy stands the user id in for it in URLs.
    """

    tenant_path = "user__membership__tenant"

    def __str__(self):
        return f"API token of {self.user} ({self.key[:4]}…)"

    class Meta:
        proxy = True
        verbose_name = "API token"
        verbose_name_plural = "API tokens"
