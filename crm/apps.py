from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "Club CRM"

    def ready(self):
        # After the admin's autodiscovery (admin is installed first): replaces DRF's token admin.
        from crm import admin_tokens  # noqa: F401
