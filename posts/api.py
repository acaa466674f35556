"""Posts API: CRUD and the actions schedule, cancel, publish, retry. Each action calls one service."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api_scoping import TenantScopedFilterSet, TenantScopedViewSetMixin
from crm.tenancy import require_membership
from posts import services
from posts.models import SocialPost
from posts.selectors import POST_ORDER, posts_scheduled_between
from posts.serializers import (
    PostInputSerializer,
    PostUpdateInputSerializer,
    RetryInputSerializer,
    ScheduleInputSerializer,
    SocialPostSerializer,
)
from socialcrm.api_inputs import KeysetCursorPagination


class PostFilter(TenantScopedFilterSet):
    scheduled_after = django_filters.IsoDateTimeFilter(method="scheduled_window", label="Publish time from")
    scheduled_before = django_filters.IsoDateTimeFilter(method="scheduled_window", label="Publish time before")
    published_after = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="lt")
    platform = django_filters.CharFilter(field_name="connection__platform", lookup_expr="iexact")

    class Meta:
        model = SocialPost
        fields = ["status", "connection", "campaign"]

    def scheduled_window(self, queryset, name, value):
        bound = {"start": value} if name == "scheduled_after" else {"end": value}
        return posts_scheduled_between(queryset, **bound)


class SocialPostViewSet(TenantScopedViewSetMixin, viewsets.ModelViewSet):
    base_queryset = POST_ORDER.ordered(SocialPost.objects.select_related("connection"))
    serializer_class = SocialPostSerializer
    # Newest first by (publish time, created, id); a page is a seek on post_tenant_list_idx, never a COUNT.
    pagination_class = KeysetCursorPagination
    keyset = POST_ORDER
    filterset_class = PostFilter
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    # Service refusals (IllegalTransition → 409, ValidationError → 400) are mapped by socialcrm.api_errors.
    conflict_on_write = True

    def get_queryset(self):
        posts = super().get_queryset()
        if self.action == "list":  # a page loads the columns the list shows, not every column of posts
            posts = posts.only(*SocialPostSerializer.read_columns())
        return posts

    def _input(self, serializer_class=PostInputSerializer, partial=False):
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _output(self, post, code=status.HTTP_200_OK):
        post = self.get_queryset().get(pk=post.pk)
        return Response(SocialPostSerializer(post, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=PostInputSerializer, responses={201: SocialPostSerializer})
    def create(self, request, *args, **kwargs):
        data = self._input()
        tenant = require_membership(request.user).tenant
        connection = data.pop("connection")
        [post] = services.posts_compose(tenant=tenant, connections=[connection], by=request.user, **data)
        return self._output(post, status.HTTP_201_CREATED)

    @extend_schema(request=PostUpdateInputSerializer, responses=SocialPostSerializer)
    def update(self, request, *args, **kwargs):
        post = self.get_object()
        if isinstance(request.data, dict) and "scheduled_at" in request.data:
            raise exceptions.ValidationError({"scheduled_at": ["Use the schedule action to set the publish time."]})
        data = self._input(PostUpdateInputSerializer, partial=kwargs.get("partial", False))
        changes = {k: data[k] for k in ("content", "hashtags", "media_urls", "connection") if k in data}
        for name in ("link_url", "campaign"):
            if name in data:
                changes[name] = data[name]
        post = services.post_update(post=post, by=request.user, **changes)
        return self._output(post)

    @extend_schema(request=PostUpdateInputSerializer, responses=SocialPostSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        services.post_delete(post=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ScheduleInputSerializer, responses=SocialPostSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        serializer = ScheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = services.post_schedule(post=self.get_object(), at=serializer.validated_data["scheduled_at"],
                     by=request.user)
        return self._output(post)

    @extend_schema(request=None, responses=SocialPostSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._output(services.post_cancel(post=self.get_object(), by=request.user))

    @extend_schema(request=None, responses={202: SocialPostSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        return self._output(services.post_publish_now(post=self.get_object(), by=request.user),
                            status.HTTP_202_ACCEPTED)

    @extend_schema(request=RetryInputSerializer, responses=SocialPostSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        serializer = RetryInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        post = services.post_retry(post=self.get_object(), by=request.user,
                     at=serializer.validated_data.get("scheduled_at"))
        return self._output(post)
