from django.contrib import admin, messages
from django.utils.html import format_html

from crm.admin_scoping import TenantScopedAdmin
from library import services
from library.models import MediaAsset
from library.selectors import media_use_count


@admin.register(MediaAsset)
class MediaAssetAdmin(TenantScopedAdmin):
    """Library images: facts and use are read-only; the description is edited; uploads go through the library."""

    list_display = ["preview", "__str__", "club", "width", "height", "size", "content_type", "used_by", "created_at"]
    list_filter = ["club", "content_type"]
    search_fields = ["original_name", "alt_text"]
    fields = ["preview", "original_name", "club", "width", "height", "size", "content_type", "sha256", "alt_text",
              "used_by", "created_by", "created_at"]
    readonly_fields = ["preview", "original_name", "club", "width", "height", "size", "content_type", "sha256",
                       "used_by", "created_by", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("club", "created_by")

    @admin.display(description="Image")
    def preview(self, asset):
        return format_html('<img src="{}" alt="{}" width="80">', asset.thumbnail_path, asset.alt_text)

    @admin.display(description="Posts and promotions using it")
    def used_by(self, asset):
        return media_use_count(asset)

    def has_add_permission(self, request):
        return False  # uploads are normalised by the library page and the API

    def save_model(self, request, obj, form, change):
        services.media_describe(asset=obj, alt_text=form.cleaned_data.get("alt_text", ""), by=request.user)

    def delete_model(self, request, obj):
        try:
            services.media_delete(asset=obj, by=request.user)
        except services.MediaInUse as exc:
            messages.error(request, exc.message)

    def delete_queryset(self, request, queryset):
        for asset in queryset:
            self.delete_model(request, asset)
