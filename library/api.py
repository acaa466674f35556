"""Media library API: upload, list, read, describe (alt text), remove when unused. Each call is one service."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api_scoping import TenantScopedViewSetMixin
from crm.tenancy import require_membership
from library import services
from library.models import MediaAsset
from library.selectors import media_list
from library.serializers import MediaAssetSerializer, MediaDescribeInputSerializer, MediaUploadInputSerializer


class MediaAssetViewSet(TenantScopedViewSetMixin, viewsets.ModelViewSet):
    """Images of the organisation's (or a club's) media library, each with its description for screen readers."""

    base_queryset = MediaAsset.objects.select_related("club")
    serializer_class = MediaAssetSerializer
    filterset_fields = ["club", "content_type"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return media_list(user=self.request.user)

    @extend_schema(request={"multipart/form-data": MediaUploadInputSerializer},
                   responses={201: MediaAssetSerializer, 200: OpenApiResponse(
                       MediaAssetSerializer, description="The same file was already in the library: that image.")})
    def create(self, request, *args, **kwargs):
        serializer = MediaUploadInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        asset, created = services.media_upload(tenant=require_membership(request.user).tenant,
                                               club=data.get("club"), upload=data["file"], by=request.user,
                                               alt_text=data.get("alt_text", ""))
        return Response(MediaAssetSerializer(self.get_queryset().get(pk=asset.pk)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=MediaDescribeInputSerializer, responses=MediaAssetSerializer)
    def update(self, request, *args, **kwargs):
        asset = self.get_object()
        serializer = MediaDescribeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.media_describe(asset=asset, alt_text=serializer.validated_data["alt_text"], by=request.user)
        return Response(MediaAssetSerializer(self.get_queryset().get(pk=asset.pk)).data)

    @extend_schema(request=MediaDescribeInputSerializer, responses=MediaAssetSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="The image is used by posts.")})
    def destroy(self, request, *args, **kwargs):
        services.media_delete(asset=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
