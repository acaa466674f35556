from django.apps import AppConfig


class PostsConfig(AppConfig):
    name = "posts"
    verbose_name = "Social posts"

    def ready(self):
        from posts import tasks  # noqa: F401  (registers the tasks the publisher enqueues by name)
