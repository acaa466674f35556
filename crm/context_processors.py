def club_context(request):
    return {
        "current_club": getattr(request, "club", None),
        "visible_clubs": getattr(request, "visible_clubs", []),
        "membership": getattr(request, "membership", None),
    }
