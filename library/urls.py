from django.urls import path

from library import views

app_name = "library"
urlpatterns = [
    path("", views.library_index, name="list"),
    path("<uuid:asset_id>/describe/", views.describe, name="describe"),
    path("<uuid:asset_id>/delete/", views.delete, name="delete"),
]
