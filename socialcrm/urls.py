from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from promotions.email_providers import tracking_webhook_urls
from socialcrm import views

REDOC_POLICY = {"style-src": [UNSAFE_INLINE], "worker-src": ["'self'", "blob:"]}

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("club/switch/", views.switch_club, name="switch-club"),
    path("connections/", include("connections.urls")),
    path("posts/", include("posts.urls")),
    path("promotions/", include("promotions.urls")),
    path("library/", include("library.urls")),
    path("campaigns/", include("crm.urls")),
    path("notifications/", include("notifications.urls")),
    path("admin/", admin.site.urls),
    # The email provider's tracking webhook, verified by anymail (signature or basic auth).
    tracking_webhook_urls(),
    path("api/v1/", include("socialcrm.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as its own URL, so the page needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
         name="api-docs"),
    # ReDoc writes <style> elements at run time (some before any nonce could reach it) and runs its search
    # in a blob: worker: that page alone allows both. Scripts stay 'self' only.
    path("api/redoc/", csp_update(REDOC_POLICY)(
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")), name="api-redoc"),
    # Uploaded media are published by public URL; the app serves them itself (no CDN, works offline).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}, name="media"),
]


def _not_found(request, exception):
    """Unknown URLs under /api/ answer in the API's error shape; pages keep Django's 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)


handler404 = _not_found
