"""API tokens that expire and can be revoked.

Clients keep sending ``Authorization: Token <key>``; a token older than API_TOKEN_TTL_DAYS is
refused with 401 and a new one is issued by posting the username and password again.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token


def api_token_expires_at(token):
    return token.created + timedelta(days=settings.API_TOKEN_TTL_DAYS)


def api_token_is_expired(token, *, now=None):
    return api_token_expires_at(token) <= (now or timezone.now())


def api_token_issue(*, user, now=None):
    """The user's token while it is valid; a new one (the old key dead) once it has expired."""
    try:
        with transaction.atomic():
            token, created = Token.objects.select_for_update().get_or_create(user=user)
            if not created and api_token_is_expired(token, now=now):
                token.delete()
                token = Token.objects.create(user=user)
    except IntegrityError:  # a concurrent first request created it a moment ago
        token = Token.objects.get(user=user)
    return token


def api_token_revoke(*, user):
    """Delete the user's API token; the key stops working at once. Returns whether there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
