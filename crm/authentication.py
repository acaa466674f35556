from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from crm.models import StaffMembership
from crm.tenancy import membership_of, remember_club_scope
from crm.tokens import api_token_is_expired

EXPIRED_MESSAGE = "This API token has expired; request a new one by posting your username and password to /api/v1/auth/token/."


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Token <key>`` header, refused once the token is older than API_TOKEN_TTL_DAYS.

    The token, its user, the user's membership and whether that membership is limited to some clubs
    come in one query: every API request needs all four (``crm/tenancy.py``), and one round trip
    costs less than three.
    """

    def authenticate_credentials(self, key):
        model = self.get_model()
        limited = StaffMembership.clubs.through.objects.filter(staffmembership__user_id=OuterRef("user_id"))
        try:
            token = (model.objects.select_related("user", "user__membership")
                     .annotate(membership_limited=Exists(limited)).get(key=key))
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if api_token_is_expired(token):
            raise exceptions.AuthenticationFailed(EXPIRED_MESSAGE)
        membership = membership_of(token.user)
        if membership is not None and not token.membership_limited:
            remember_club_scope(membership, every_club=True)
        return token.user, token
