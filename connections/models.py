import uuid

from django.db import models

from connections import vault
from crm.history import tracked_history
from crm.validators import validate_str_list
from platforms import platform_choices
from platforms.errors import split_platform_words

# The platforms are the adapters' (platforms/<name>.py declares its stored code, label and place in
# the list); the stored values never change, so neither do the migrations.
SocialPlatform = models.TextChoices("SocialPlatform", [(code, (code, label)) for code, label in platform_choices()])


# Columns holding secrets, kept out of the connection's history.
TOKEN_FIELDS = ("access_token", "refresh_token")


class AccountType(models.TextChoices):
    PAGE = "page", "Page"
    BUSINESS = "business", "Business account"
    PROFILE = "profile", "Profile"
    COMPANY = "company", "Company page"


class SocialConnection(models.Model):
    """An OAuth connection to one account on a social platform (seed: SocialConnection)."""

    club_path = "club"
    club_may_be_empty = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="social_connections")
    club = models.ForeignKey(
        "crm.Club", on_delete=models.CASCADE, null=True, blank=True, related_name="social_connections",
        db_index=False, help_text="Empty: the connection serves the whole tenant.",
    )
    platform = models.CharField(max_length=16, choices=SocialPlatform.choices)
    account_id = models.CharField(max_length=255, help_text="The platform's account / page id.")
    account_name = models.CharField(max_length=255)
    account_type = models.CharField(max_length=32, choices=AccountType.choices, null=True, blank=True)
    account_details = models.JSONField(default=dict, blank=True, help_text="Non-secret account facts (username, page id).")

    # OAuth tokens: vault ciphertext only. Read them with reveal_access_token() / reveal_refresh_token().
    access_token = vault.SealedTextField(editable=False)
    refresh_token = vault.SealedTextField(null=True, blank=True, editable=False)
    token_expiry = models.DateTimeField(null=True, blank=True)
    refresh_token_expiry = models.DateTimeField(null=True, blank=True)
    token_checked_at = models.DateTimeField(null=True, blank=True, help_text="When the token was last checked or refreshed.")

    permissions = models.JSONField(default=list, blank=True, validators=[validate_str_list])

    is_active = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    connected_by = models.CharField(max_length=150)

    # Never the sealed tokens: the history holds who changed the connection and when, not its secrets.
    history = tracked_history(excluded_fields=TOKEN_FIELDS)

    class Meta:
        ordering = ["platform", "account_name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "platform", "account_id"], name="connection_tenant_platform_account_uniq"),
        ]
        indexes = [
            models.Index(fields=["tenant", "platform", "is_active"], name="conn_tenant_platf_active_idx"),
            models.Index(fields=["tenant", "club"], name="conn_tenant_club_idx"),
        ]

    def __str__(self):
        return f"{self.get_platform_display()}: {self.account_name}"

    def __repr__(self):
        return f"<SocialConnection {self.pk} {self.platform} {self.account_id}>"

    @property
    def last_error_summary(self):
        """The last error's plain sentence, for the main message."""
        return split_platform_words(self.last_error or "")[0]

    @property
    def last_error_detail(self):
        """What the platform itself said, if anything: shown apart, as detail."""
        return split_platform_words(self.last_error or "")[1]

    def _context(self, field):
        return vault.context_for(SocialConnection, self.pk, field)

    def set_tokens(self, *, access_token, refresh_token=None):
        """Encrypt and store both tokens; the refresh token is sealed on its own."""
        self.access_token = vault.encrypt(access_token, context=self._context("access_token"))
        self.refresh_token = vault.encrypt(refresh_token, context=self._context("refresh_token")) if refresh_token else None

    def reveal_access_token(self):
        return vault.decrypt(self.access_token, context=self._context("access_token"))

    def reveal_refresh_token(self):
        return vault.decrypt(self.refresh_token, context=self._context("refresh_token"))

    def reencrypt_tokens(self):
        self.set_tokens(access_token=self.reveal_access_token(), refresh_token=self.reveal_refresh_token())


class OAuthAttempt(models.Model):
    """Server-side, single-use OAuth `state`, tied to one staff session and tenant.

    After the callback it also holds the accounts offered for picking, sealed by the vault.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.CharField(max_length=128, unique=True)
    tenant = models.ForeignKey("crm.Tenant", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=64)
    platform = models.CharField(max_length=16, choices=SocialPlatform.choices)
    redirect_uri = models.URLField(max_length=500)
    code_verifier = vault.SealedTextField(null=True, blank=True, editable=False)
    offered_accounts = vault.SealedTextField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth attempt"
        verbose_name_plural = "OAuth attempts"
        indexes = [models.Index(fields=["created_at"], name="oauth_attempt_created_idx")]

    def __repr__(self):
        return f"<OAuthAttempt {self.pk} {self.platform}>"

    def __str__(self):
        return f"{self.get_platform_display()} sign-in by {self.user_id}"

    def seal(self, field, value):
        setattr(self, field, vault.encrypt(value, context=vault.context_for(OAuthAttempt, self.pk, field)))

    def reveal(self, field):
        return vault.decrypt(getattr(self, field), context=vault.context_for(OAuthAttempt, self.pk, field))


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class PostingSlot(models.Model):
    """A weekly time (on the club's clock) when one connection likes to post: "Add to queue" fills these."""

    tenant_path = "connection__tenant"
    club_path = "connection__club"
    club_may_be_empty = True

    connection = models.ForeignKey(SocialConnection, on_delete=models.CASCADE, related_name="posting_slots")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    time = models.TimeField(help_text="On the club's clock.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["connection", "weekday", "time"]
        constraints = [
            models.UniqueConstraint(fields=["connection", "weekday", "time"], name="posting_slot_uniq"),
        ]

    def __str__(self):
        from crm.dates import format_clock

        return f"{self.get_weekday_display()} {format_clock(self.time, self.connection.club)}"
