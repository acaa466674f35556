"""The token endpoint: issued through the same lockout as the login page, revoked by its owner."""

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.lockout import lockout_message
from crm.tokens import api_token_expires_at, api_token_issue, api_token_revoke


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ApiTokenView(APIView):
    """POST username and password for a token; DELETE revokes the caller's token."""

    throttle_scope = "token"

    def _obtaining(self):
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_permissions(self):
        return [AllowAny()] if self._obtaining() else [IsAuthenticated()]

    def get_authenticators(self):
        # Obtaining a token takes only the password: no session (and so no CSRF) involved.
        return [] if self._obtaining() else super().get_authenticators()

    @extend_schema(request=TokenRequestSerializer, responses={
        200: TokenResponseSerializer,
        400: inline_serializer("TokenRefused", {"detail": serializers.CharField()}),
        429: inline_serializer("TokenLockedOut", {"detail": serializers.CharField()}),
    })
    def post(self, request):
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        # The Django request, so axes records the failure and marks a lockout where its middleware sees it.
        user = authenticate(request=request._request, username=given.validated_data["username"],
                            password=given.validated_data["password"])
        if getattr(request._request, "axes_locked_out", False):
            return Response({"detail": lockout_message(request._request)}, status=settings.AXES_HTTP_RESPONSE_CODE)
        if user is None:
            return Response({"detail": "Unable to log in with that username and password."},
                            status=status.HTTP_400_BAD_REQUEST)
        token = api_token_issue(user=user)
        return Response(TokenResponseSerializer({"token": token.key, "expires_at": api_token_expires_at(token)}).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
