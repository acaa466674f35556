from django.urls import path

from posts import views

app_name = "posts"
urlpatterns = [
    path("", views.post_index, name="list"),
    path("new/", views.compose, name="compose"),
    path("rules/", views.rules, name="rules"),
    path("preview/", views.preview, name="preview"),
    path("versions/<uuid:composition_id>/", views.composition_detail, name="composition"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/move/", views.calendar_move, name="calendar_move"),
    path("calendar/feed/", views.calendar_feed, name="calendar_feed"),
    path("calendar/feed/<str:token>.ics", views.calendar_ics, name="calendar_ics"),
    path("<uuid:post_id>/", views.detail, name="detail"),
    path("<uuid:post_id>/action/", views.post_action, name="action"),
    path("<uuid:post_id>/delete/", views.delete_confirm, name="delete"),
]
