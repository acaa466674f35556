from django.urls import include, path
from rest_framework.routers import DefaultRouter

from connections.api import PostingSlotViewSet, SocialConnectionViewSet
from crm.api import CampaignViewSet, ClubViewSet, TenantSettingsView
from crm.api_tokens import ApiTokenView
from library.api import MediaAssetViewSet
from notifications.api import NotificationViewSet
from posts.api import CompositionViewSet, SocialPostViewSet
from promotions.api import EventPromotionViewSet, InboundEventView, PromotionDispatchViewSet

router = DefaultRouter()
router.register("connections", SocialConnectionViewSet, basename="connection")
router.register("posting-slots", PostingSlotViewSet, basename="posting-slot")
router.register("posts", SocialPostViewSet, basename="post")
router.register("compositions", CompositionViewSet, basename="composition")
router.register("promotions", EventPromotionViewSet, basename="promotion")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("clubs", ClubViewSet, basename="club")
router.register("dispatches", PromotionDispatchViewSet, basename="dispatch")
router.register("media", MediaAssetViewSet, basename="media")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("events/", InboundEventView.as_view(), name="inbound-events"),
    path("tenant/settings/", TenantSettingsView.as_view(), name="tenant-settings"),
    path("", include(router.urls)),
]
