from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from crm.tokens import api_token_is_expired

EXPIRED_MESSAGE = "This API token has expired; request a new one by posting your username and password to /api/v1/auth/token/."



class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's ``Token <key>`` header, refused once the token is older than API_TOKEN_TTL_DAYS."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if api_token_is_expired(token):
            raise exceptions.AuthenticationFailed(EXPIRED_MESSAGE)
        return user, token
