import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.clock import club_local_to_utc, club_utc_to_local
from crm.dates import PICKER_FORMAT
from crm.models import Campaign, MessageTemplate, Segment
from crm.tenancy import scope_queryset, visible_clubs
from library.selectors import media_list
from platforms.fetch import validate_media_address
from promotions.models import Channel
from promotions.templating import SOCIAL, help_text, validate_social_text
from socialcrm.inputs import moment_in_range


def parse_days(text):
    try:
        days = sorted({int(part) for part in text.replace(";", ",").split(",") if part.strip()}, reverse=True)
    except ValueError:
        raise forms.ValidationError("Use whole numbers separated by commas, e.g. 7, 3, 1.") from None
    if any(d < 1 or d > 365 for d in days):
        raise forms.ValidationError("Each reminder is 1 to 365 days before the event.")
    return days


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time as typed, without a zone: crm.clock reads it on the club's clock.

    Django's own field would read it in the active zone and refuse times in a daylight-saving gap.
    """

    def to_python(self, value):
        with timezone.override(datetime.UTC):
            parsed = super().to_python(value)
        return parsed.astimezone(datetime.UTC).replace(tzinfo=None) if parsed is not None else None


# A datetime-local input takes "2027-03-14T09:00"; Django's default "2027-03-14 09:00:00" leaves it empty.
PICKER = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=PICKER_FORMAT)


class PromotionForm(forms.Form):
    """Create or edit a promotion. Times are typed on the club's clock and stored as UTC."""

    club = forms.ModelChoiceField(queryset=None, empty_label=None)
    event_name = forms.CharField(max_length=255, label="Event")
    event_starts_at = WallClockDateTimeField(label="Starts (club time)",
                                           widget=PICKER)
    event_location = forms.CharField(max_length=255, required=False, label="Location")
    event_url = forms.URLField(max_length=2000, required=False, label="Event link")
    event_image_url = forms.URLField(max_length=2000, required=False, label="Image URL",
                                     validators=[validate_media_address],
                                     help_text="Needed for Instagram; without it Instagram is skipped.")
    library_image = forms.ModelChoiceField(queryset=None, required=False, label="Or an image from the media library",
                                           empty_label="None (use the address above)",
                                           help_text="Its description (alt text) goes with it to every network.")
    image_upload = forms.ImageField(required=False, label="Or upload an image into the media library",
                                    help_text="JPEG, PNG, GIF or WebP; it is resized so every network accepts it.")
    channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple)
    announce_at = WallClockDateTimeField(required=False, label="Announce at (club time)",
                                      help_text="Leave empty to announce at once.",
                                      widget=PICKER)
    reminder_days = forms.CharField(initial="7, 3, 1", label="Reminders (days before)", required=False)
    segment = forms.ModelChoiceField(queryset=None, required=False, empty_label="Every member of the club")
    target_radius = forms.IntegerField(required=False, min_value=1, max_value=20000, label="Only within (km)")
    email_template = forms.ModelChoiceField(queryset=None, required=False, empty_label="Standard email")
    sms_template = forms.ModelChoiceField(queryset=None, required=False, empty_label="Standard text")
    social_content = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Social post text",
                                     validators=[validate_social_text],
                                     help_text="Leave empty for a text built from the event. " + help_text(SOCIAL))
    campaign = forms.ModelChoiceField(queryset=None, required=False, empty_label="No campaign")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    EVENT_FIELDS = ("event_name", "event_starts_at", "event_location", "event_url", "event_image_url",
                    "library_image", "image_upload")

    def __init__(self, *args, user, promotion=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.promotion = promotion
        self.fields["club"].queryset = visible_clubs(user)
        self.fields["library_image"].queryset = media_list(user=user)
        self.fields["library_image"].label_from_instance = lambda a: (
            f"{a} ({a.club.name if a.club else 'every club'}){'' if a.alt_text else ' — no description yet'}")
        self.fields["segment"].queryset = scope_queryset(Segment.objects.all(), user)
        self.fields["campaign"].queryset = scope_queryset(Campaign.objects.all(), user)
        templates = scope_queryset(MessageTemplate.objects.all(), user)
        self.fields["email_template"].queryset = templates.filter(channel="EMAIL")
        self.fields["sms_template"].queryset = templates.filter(channel="SMS")
        self._name_the_clock(promotion.club if promotion is not None else None)
        if promotion is not None:
            self.fields["club"].disabled = True
            if promotion.source_type != "SPECIAL":
                for name in self.EVENT_FIELDS:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = "From the source system."

    def _name_the_clock(self, club):
        """Beside each date and time: the timezone it is typed in (the club's, or each club's when not chosen yet)."""
        if club is not None:
            clock = f"Typed on the club's clock: {club.timezone}."
        else:
            zones = sorted({str(c.timezone) for c in self.fields["club"].queryset})
            clock = ("Typed on the chosen club's clock: " + ", ".join(zones) + "." if len(zones) != 1
                     else f"Typed on the club's clock: {zones[0]}.")
        for name in ("event_starts_at", "announce_at"):
            field = self.fields[name]
            field.help_text = f"{field.help_text} {clock}".strip()

    @classmethod
    def initial_for(cls, promotion):
        local = lambda value: club_utc_to_local(promotion.club, value).replace(tzinfo=None) if value else None  # noqa: E731
        return {
            "club": promotion.club, "event_name": promotion.event_name, "event_starts_at": local(promotion.event_starts_at),
            "event_location": promotion.event_location, "event_url": promotion.event_url,
            "event_image_url": promotion.event_image_url, "channels": promotion.channels,
            "library_image": getattr(getattr(promotion, "library_image", None), "asset", None),
            "announce_at": local(promotion.announce_at),
            "reminder_days": ", ".join(str(d) for d in promotion.reminder_days), "segment": promotion.segment,
            "target_radius": promotion.target_radius, "email_template": promotion.email_template,
            "sms_template": promotion.sms_template, "social_content": promotion.social_content or "",
            "campaign": promotion.campaign, "is_active": promotion.is_active,
        }

    def clean_reminder_days(self):
        return parse_days(self.cleaned_data.get("reminder_days") or "")

    def clean(self):
        cleaned = super().clean()
        club = cleaned.get("club") or (self.promotion.club if self.promotion else None)
        if club is None:
            return cleaned
        for name in ("event_starts_at", "announce_at"):
            value = cleaned.get(name)
            try:
                if isinstance(value, datetime.datetime):
                    # The browser sends wall-clock time; it means the club's clock, whatever the server's zone.
                    wall = value if timezone.is_naive(value) else timezone.make_naive(value)
                    cleaned[name] = club_local_to_utc(club, wall)
                cleaned[name] = moment_in_range(cleaned.get(name))
            except ValidationError as exc:
                self.add_error(name, exc)
        return cleaned

    def clean_library_image(self):
        asset = self.cleaned_data.get("library_image")
        if asset is not None:
            self.cleaned_data["event_image_url"] = asset.url
        return asset

    def service_fields(self):
        data = dict(self.cleaned_data)
        data.pop("club", None)
        data.pop("library_image", None)
        data.pop("image_upload", None)
        if self.promotion is not None and self.promotion.source_type != "SPECIAL":
            for name in self.EVENT_FIELDS:
                data.pop(name, None)
        data["social_content"] = data.get("social_content") or None
        return data


class TenantDefaultsForm(forms.Form):
    auto_promote = forms.BooleanField(required=False, label="Promote published competitions and club events automatically")
    default_channels = forms.MultipleChoiceField(choices=Channel.choices, widget=forms.CheckboxSelectMultiple,
                                                 label="Channels")
    default_reminder_days = forms.CharField(label="Reminders (days before)")
    default_send_time = forms.TimeField(label="Send time (club time)", widget=forms.TimeInput(attrs={"type": "time"}))

    def clean_default_reminder_days(self):
        return parse_days(self.cleaned_data["default_reminder_days"])


class TenantDeliveryForm(forms.Form):
    """What a text costs (for the estimate before a promotion is saved) and how links are tracked."""

    sms_price_per_segment = forms.DecimalField(required=False, min_value=0, max_digits=8, decimal_places=4,
                                               label="Price of one SMS segment",
                                               help_text="What the SMS gateway charges per segment; empty: no estimate.")
    sms_price_currency = forms.RegexField(regex=r"^[A-Za-z]{3}$", label="Currency", max_length=3,
                                          error_messages={"invalid": "Use a three-letter currency code, e.g. EUR."})
    utm_enabled = forms.BooleanField(required=False, label="Add UTM parameters to links in posts, emails and texts")
    utm_medium_social = forms.SlugField(max_length=50, label="Medium for posts")
    utm_medium_email = forms.SlugField(max_length=50, label="Medium for emails")
    utm_medium_sms = forms.SlugField(max_length=50, label="Medium for texts")

    @classmethod
    def initial_for(cls, tenant):
        return {name: getattr(tenant, name) for name in cls.base_fields}
