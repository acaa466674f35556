from django.urls import path

from crm import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_index, name="list"),
]
