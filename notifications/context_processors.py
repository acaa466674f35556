from notifications.selectors import banners_for


def banners(request):
    """The signed-in person's open notifications, shown as banners on every staff page."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False) or request.path.startswith("/admin/"):
        return {"notification_banners": []}
    return {"notification_banners": banners_for(user=user)}
