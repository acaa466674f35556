from axes.backends import AxesStandaloneBackend


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' lockout check for every login that comes with a request (login page, admin, API token).

    A call without a request (Django's test client ``login()``, a shell) is no web login: there is
    no address to count against, so it goes straight to the password check.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
