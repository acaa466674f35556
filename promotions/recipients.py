"""Who a dispatch reaches: the segment (or the whole club), near enough, with consent for the channel."""

import math

from crm.models import Member
from promotions.models import Channel

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1, lng1, lat2, lng2):
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def audience(*, promotion):
    """The segment's members (every member of the club without a segment), before channel and distance."""
    if promotion.segment_id:
        return Member.objects.filter(tenant_id=promotion.tenant_id, segments=promotion.segment_id)
    return Member.objects.filter(tenant_id=promotion.tenant_id, club_id=promotion.club_id)


def with_consent(members, channel):
    if channel == Channel.EMAIL:
        return members.filter(email_consent=True).exclude(email="")
    if channel == Channel.SMS:
        return members.filter(sms_consent=True).exclude(phone="")
    return members.none()


def _bounding_box(members, lat, lng, radius_km):
    # A cheap SQL pre-filter; the exact haversine check follows in Python.
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    members = members.filter(latitude__gte=lat - dlat, latitude__lte=lat + dlat, longitude__isnull=False)
    cos_lat = math.cos(math.radians(lat))
    if cos_lat > 1e-6:
        dlng = math.degrees(radius_km / (EARTH_RADIUS_KM * cos_lat))
        if dlng < 180:
            low, high = lng - dlng, lng + dlng
            if low >= -180 and high <= 180:
                members = members.filter(longitude__gte=low, longitude__lte=high)
    return members


def recipient_id_pages(*, promotion, channel, size, after=None):
    """Lists of up to `size` recipient ids in member-id order, after `after` (keyset pages: memory stays flat).

    The order is what lets a dispatch be cut into member-id ranges, and a planner that died carry on
    after the last range it recorded.
    """
    members = with_consent(audience(promotion=promotion), channel)
    club = promotion.club
    radius = promotion.target_radius
    if radius:
        if club.latitude is None or club.longitude is None:
            return  # without the club's location there is no "near": nobody qualifies rather than everybody
        members = _bounding_box(members, club.latitude, club.longitude, radius)
    members = members.order_by("id")
    page = []
    while True:
        rows = list((members.filter(id__gt=after) if after is not None else members)
                    .values_list("id", "latitude", "longitude")[:size])
        if not rows:
            break
        after = rows[-1][0]
        for member_id, lat, lng in rows:
            if radius and distance_km(club.latitude, club.longitude, lat, lng) > radius:
                continue
            page.append(member_id)
            if len(page) == size:
                yield page
                page = []
    if page:
        yield page
