from django.apps import AppConfig


class PromotionsConfig(AppConfig):
    name = "promotions"
    verbose_name = "Event promotions"

    def ready(self):
        from anymail.signals import tracking

        from promotions.email_events import on_tracking

        tracking.connect(on_tracking, dispatch_uid="promotions.email_events.on_tracking")
