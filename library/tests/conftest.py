import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from library.tests import images


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "http://127.0.0.1:9"
    return tmp_path


@pytest.fixture
def upload():
    def _upload(data=None, name="green.jpg"):
        return SimpleUploadedFile(name, data if data is not None else images.jpeg(640, 800), content_type="image/jpeg")
    return _upload
