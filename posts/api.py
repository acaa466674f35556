"""Posts API: CRUD, the actions schedule, cancel, publish, retry, the approval actions submit, approve,
send-back, and the post's history; compositions (one post, a version per network) with their previews.
Each action calls one service."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api_scoping import TenantScopedFilterSet, TenantScopedViewSetMixin
from crm.history_api import HistoryActionMixin
from crm.tenancy import require_membership
from posts import calendar as planning
from posts import compositions, previews, services
from posts.models import VERSION_FIELDS, ApprovalState, Composition, SocialPost
from posts.selectors import COMPOSITION_ORDER, POST_ORDER, composition_list, posts_scheduled_between
from posts.serializers import (
    ApproveInputSerializer,
    BestTimesSerializer,
    CompositionInputSerializer,
    CompositionPreviewInputSerializer,
    CompositionPreviewSerializer,
    CompositionSerializer,
    CompositionUpdateInputSerializer,
    PostInputSerializer,
    PostUpdateInputSerializer,
    RetryInputSerializer,
    ScheduleInputSerializer,
    SendBackInputSerializer,
    SocialPostSerializer,
)
from socialcrm.api_inputs import KeysetCursorPagination


class PostFilter(TenantScopedFilterSet):
    scheduled_after = django_filters.IsoDateTimeFilter(method="scheduled_window", label="Publish time from")
    scheduled_before = django_filters.IsoDateTimeFilter(method="scheduled_window", label="Publish time before")
    published_after = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="gte")
    published_before = django_filters.IsoDateTimeFilter(field_name="published_at", lookup_expr="lt")
    platform = django_filters.CharFilter(field_name="connection__platform", lookup_expr="iexact")
    approval = django_filters.ChoiceFilter(field_name="approval_state", choices=ApprovalState.choices,
                                           label="Approval state (pending: awaiting approval)")

    class Meta:
        model = SocialPost
        fields = ["status", "connection", "campaign"]

    def scheduled_window(self, queryset, name, value):
        bound = {"start": value} if name == "scheduled_after" else {"end": value}
        return posts_scheduled_between(queryset, **bound)


class SocialPostViewSet(HistoryActionMixin, TenantScopedViewSetMixin, viewsets.ModelViewSet):
    base_queryset = POST_ORDER.ordered(SocialPost.objects.select_related(
        "connection", "tenant", "approval_requested_by", "approval_decided_by"))
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
            columns = SocialPostSerializer.read_columns()
            posts = posts.select_related("tenant")
            if columns is not None:
                posts = posts.only(*columns)
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
        [post] = services.posts_compose(tenant=tenant, connections=[connection], by=request.user,
                                        club=getattr(request, "club", None), **data)
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

    @extend_schema(request=None, responses=SocialPostSerializer,
                   description="Ask for approval of a draft or failed post (when the organisation's posts need it).")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._output(services.post_submit(post=self.get_object(), by=request.user))

    @extend_schema(request=ApproveInputSerializer, responses=SocialPostSerializer,
                   description="Approve a post awaiting approval (tenant admins and the club's approvers). A draft "
                               "whose publish time is still ahead is scheduled for it.")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = self._input(ApproveInputSerializer)
        return self._output(services.post_approve(post=self.get_object(), by=request.user,
                                                  comment=data.get("comment", "")))

    @extend_schema(request=SendBackInputSerializer, responses=SocialPostSerializer,
                   description="Send a post back to its author with a comment (tenant admins and the club's "
                               "approvers); a scheduled post becomes a draft.")
    @action(detail=True, methods=["post"], url_path="send-back", url_name="send-back")
    def send_back(self, request, pk=None):
        data = self._input(SendBackInputSerializer)
        return self._output(services.post_send_back(post=self.get_object(), by=request.user, comment=data["comment"]))

    @extend_schema(request=None, responses=BestTimesSerializer)
    @action(detail=False, methods=["get"], url_path="best-times")
    def best_times(self, request):
        """Hours of the week (club clock) when the tenant's published posts drew the most engagement."""
        hints = planning.best_posting_times(user=request.user, club=getattr(request, "club", None))
        return Response(BestTimesSerializer({
            "enough_data": hints is not None, "min_posts": planning.BEST_TIME_MIN_POSTS,
            "sample": hints.sample if hints else 0, "hours": hints.hours if hints else [],
        }).data)

# ----------------------------------------------------------------------------- compositions


def _version_refusals(exc):
    """A composition's refusals as field errors: ``versions.<connection id>`` for each refused version."""
    if isinstance(exc, compositions.VersionsRefused):
        return exceptions.ValidationError({f"versions.{key}": found for key, found in exc.by_connection.items()})
    return exc


def _base_of(data):
    return {name: data[name] for name in VERSION_FIELDS if name in data}


def _own_fields(version):
    return {name: version[name] for name in VERSION_FIELDS if name in version}


class CompositionFilter(TenantScopedFilterSet):
    class Meta:
        model = Composition
        fields = ["club", "campaign"]


class CompositionViewSet(TenantScopedViewSetMixin, viewsets.ModelViewSet):
    """One post written once for several networks: the base, and each network's version with its status."""

    serializer_class = CompositionSerializer
    pagination_class = KeysetCursorPagination
    keyset = COMPOSITION_ORDER
    filterset_class = CompositionFilter
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    conflict_on_write = True

    def get_queryset(self):
        return composition_list(user=self.request.user)

    def _input(self, serializer_class, partial=False):
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _output(self, composition, code=status.HTTP_200_OK):
        composition = self.get_queryset().get(pk=composition.pk)
        return Response(CompositionSerializer(composition, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=CompositionInputSerializer, responses={201: CompositionSerializer})
    def create(self, request, *args, **kwargs):
        data = self._input(CompositionInputSerializer)
        tenant = require_membership(request.user).tenant
        overrides = {str(v["connection"].pk): _own_fields(v) for v in data.get("versions", [])}
        try:
            composition = compositions.composition_create(
                tenant=tenant, connections=data["connections"], campaign=data.get("campaign"), overrides=overrides,
                scheduled_at=data.get("scheduled_at"), by=request.user, **_base_of(data))
        except compositions.VersionsRefused as exc:
            raise _version_refusals(exc) from None
        return self._output(composition, status.HTTP_201_CREATED)

    @extend_schema(request=CompositionUpdateInputSerializer, responses=CompositionSerializer)
    def update(self, request, *args, **kwargs):
        composition = self.get_object()
        data = self._input(CompositionUpdateInputSerializer, partial=kwargs.get("partial", False))
        mine = {v.pk: v for v in composition.visible_versions}
        by_connection = {v.connection_id: v for v in mine.values()}
        versions = []
        for version in data.get("versions", []):
            post = by_connection.get(version["connection"].pk)
            if post is None:
                raise exceptions.ValidationError({"versions": ["This post has no version for that connection."]})
            versions.append((post, _own_fields(version), version.get("reset", [])))
        try:
            composition = compositions.composition_edit(
                composition=composition, by=request.user, base=_base_of(data), versions=versions,
                **({"campaign": data["campaign"]} if "campaign" in data else {}))
        except compositions.VersionsRefused as exc:
            raise _version_refusals(exc) from None
        return self._output(composition)

    @extend_schema(request=CompositionUpdateInputSerializer, responses=CompositionSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        compositions.composition_delete(composition=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ScheduleInputSerializer, responses=CompositionSerializer,
                   description="Schedule every draft version at one time (scheduled ones move to it); all or none.")
    @action(detail=True, methods=["post"])
    def schedule(self, request, pk=None):
        serializer = ScheduleInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            composition = compositions.composition_schedule(
                composition=self.get_object(), at=serializer.validated_data["scheduled_at"], by=request.user)
        except compositions.VersionsRefused as exc:
            raise _version_refusals(exc) from None
        return self._output(composition)

    @extend_schema(request=None, responses=CompositionPreviewSerializer,
                   description="What each network will show of this composition's versions, as saved.")
    @action(detail=True, methods=["get"], url_path="preview")
    def saved_preview(self, request, pk=None):
        composition = self.get_object()
        cards = [previews.post_preview(post=post) for post in composition.visible_versions]
        return Response(CompositionPreviewSerializer({"versions": [c.as_dict() for c in cards]}).data)

    @extend_schema(request=CompositionPreviewInputSerializer, responses=CompositionPreviewSerializer,
                   description="What each network would show of a composition not yet saved; nothing is stored.")
    @action(detail=False, methods=["post"], url_path="preview")
    def preview(self, request):
        data = self._input(CompositionPreviewInputSerializer)
        base = {"content": "", "hashtags": [], "link_url": None, "media_urls": [], **_base_of(data)}
        overrides = {str(v["connection"].pk): _own_fields(v) for v in data.get("versions", [])}
        cards = previews.composition_previews(connections=data["connections"], base=base, overrides=overrides)
        return Response(CompositionPreviewSerializer({"versions": [c.as_dict() for c in cards]}).data)
