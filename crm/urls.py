from django.urls import path

from crm import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_index, name="list"),
    path("<uuid:pk>/", views.campaign_detail, name="detail"),
    path("<uuid:pk>/report.csv", views.campaign_report_csv, name="report-csv"),
]
