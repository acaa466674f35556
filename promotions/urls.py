from django.urls import path

from promotions import views

app_name = "promotions"
urlpatterns = [
    path("", views.promotion_index, name="list"),
    path("new/", views.promotion_create, name="create"),
    path("settings/", views.promotion_settings, name="settings"),
    path("sms-estimate/", views.promotion_sms_estimate, name="sms-estimate"),
    path("sms-count/", views.sms_count, name="sms-count"),
    path("settings/secret/", views.rotate_event_secret, name="rotate-secret"),
    path("<uuid:pk>/", views.promotion_detail, name="detail"),
    path("<uuid:pk>/edit/", views.promotion_edit, name="edit"),
    path("<uuid:pk>/report.csv", views.promotion_report_csv, name="report-csv"),
    path("<uuid:pk>/toggle/", views.promotion_toggle, name="toggle"),
    path("<uuid:pk>/preview/", views.promotion_preview, name="preview"),
    path("<uuid:pk>/preview/email/", views.promotion_preview_email, name="preview_email"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("sms/inbound/", views.sms_inbound, name="sms-inbound"),
    path("sms/receipts/", views.sms_receipt, name="sms-receipt"),
]
