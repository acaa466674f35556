import pytest


@pytest.fixture
def eager_celery():
    """Tasks run in the calling thread (after commit), as a worker would run them."""
    import notifications.tasks  # noqa: F401  (registers the tasks, as the worker does at start)
    from socialcrm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous
