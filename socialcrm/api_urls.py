from django.urls import include, path
from rest_framework.routers import DefaultRouter

from connections.api import SocialConnectionViewSet
from crm.api import CampaignViewSet, ClubViewSet
from crm.api_tokens import ApiTokenView
from notifications.api import NotificationViewSet
from posts.api import SocialPostViewSet
from promotions.api import EventPromotionViewSet, InboundEventView, PromotionDispatchViewSet

router = DefaultRouter()
router.register("connections", SocialConnectionViewSet, basename="connection")
router.register("posts", SocialPostViewSet, basename="post")
router.register("promotions", EventPromotionViewSet, basename="promotion")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("clubs", ClubViewSet, basename="club")
router.register("dispatches", PromotionDispatchViewSet, basename="dispatch")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = [
    path("auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("events/", InboundEventView.as_view(), name="inbound-events"),
    path("", include(router.urls)),
]
