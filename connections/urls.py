from django.urls import path

from connections import views

app_name = "connections"
urlpatterns = [
    path("", views.connection_index, name="list"),
    path("connect/<slug:platform>/", views.connect, name="connect"),
    path("callback/<slug:platform>/", views.callback, name="callback"),
    path("pick/<uuid:attempt_id>/", views.pick, name="pick"),
    path("<uuid:pk>/", views.detail, name="detail"),
    path("<uuid:pk>/deactivate/", views.deactivate, name="deactivate"),
    path("<uuid:pk>/delete/", views.delete, name="delete"),
    path("<uuid:pk>/schedule/", views.schedule, name="schedule"),
]
