"""Tracked links: UTM parameters added to the links promotions put in posts, emails and texts.

Per destination: utm_source is the network a post goes to (its platform, in lower case) or the channel
("email", "sms"); utm_medium is the tenant's name for that kind of destination; utm_campaign is the campaign's
slug, or the promotion's (its event name) without a campaign. The link's own query parameters are kept, and a
UTM parameter already in the link wins over ours (staff chose it). A tenant can turn tracking off
(crm.Tenant.utm_enabled).
"""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.text import slugify

from promotions.models import Channel

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")


def with_utm(url, *, source, medium, campaign):
    """The URL with utm_source, utm_medium and utm_campaign added; other parameters (and any UTM of its own) kept."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, value) for key, value in zip(UTM_KEYS, (source, medium, campaign), strict=True)
              if key not in present and value]
    return urlunsplit(parts._replace(query=urlencode(query)))


def campaign_slug(promotion):
    campaign = promotion.campaign if promotion.campaign_id else None
    return slugify(campaign.name if campaign is not None else promotion.event_name)[:100] or "promotion"


def _medium(tenant, channel):
    return {Channel.EMAIL: tenant.utm_medium_email, Channel.SMS: tenant.utm_medium_sms}.get(channel, tenant.utm_medium_social)


def tracked_url(url, *, promotion, channel, network=None, tenant=None):
    """`url` as it goes out on `channel` (and, for a post, to `network`, the connection's platform)."""
    tenant = tenant or promotion.club.tenant
    if not url or not tenant.utm_enabled:
        return url
    source = (network or "social").lower() if channel == Channel.SOCIAL else str(channel).lower()
    return with_utm(url, source=source, medium=_medium(tenant, channel), campaign=campaign_slug(promotion))
