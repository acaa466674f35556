from django.urls import path

from posts import views

app_name = "posts"
urlpatterns = [
    path("", views.post_index, name="list"),
    path("calendar/", views.calendar, name="calendar"),
]
