from django.urls import include, path
from rest_framework.routers import DefaultRouter

from connections.api import SocialConnectionViewSet
from crm.api import CampaignViewSet
from crm.api_tokens import ApiTokenView
from posts.api import CompositionViewSet, SocialPostViewSet
from promotions.api import EventPromotionViewSet, InboundEventView, PromotionDispatchViewSet

router = DefaultRouter()
router.register("connections", SocialConnectionViewSet, basename="connection")
router.register("posts", SocialPostViewSet, basename="post")
router.register("compositions", CompositionViewSet, basename="composition")
router.register("promotions", EventPromotionViewSet, basename="promotion")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("dispatches", PromotionDispatchViewSet, basename="dispatch")

urlpatterns = [
    path("auth/token/", ApiTokenView.as_view(), name="api-token"),
    path("events/", InboundEventView.as_view(), name="inbound-events"),
    path("", include(router.urls)),
]
