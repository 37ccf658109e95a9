import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from core.guards import require_secret_key  # noqa: E402 - needs the settings loaded
from core.memory import freeze_loaded_objects  # noqa: E402

require_secret_key()
freeze_loaded_objects()
