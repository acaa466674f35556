"""The Content-Security-Policy of every response (django-csp), plus where staff are sent to give consent."""

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts

from platforms import all_adapters


def consent_origins() -> list[str]:
    """Origins of the platforms' consent dialogs, as each adapter builds them from the current settings.

    Starting a connection may one day be a form POST answered by a redirect to the platform, and
    browsers hold such redirects to form-action; listing the configured dialogs (the simulator
    locally) keeps that working without opening form-action to anything else.
    """
    origins = []
    for adapter in all_adapters():
        url = adapter.authorization_url(redirect_uri="", state="", code_verifier=adapter.new_code_verifier())
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme in ("http", "https") and parts.netloc and origin not in origins:
            origins.append(origin)
    return origins


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(self, request, response, report_only=False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if not report_only:
            parts.update = {**(parts.update or {})}
            parts.update["form-action"] = [*parts.update.get("form-action", []), *consent_origins()]
        return parts
