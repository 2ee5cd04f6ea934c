"""WSGI entry point: Django's own, plus the one line.

    gunicorn examples.django_project.wsgi:application

Unwrapped, for the zero-code entry point instead of the one line:

    SAASUS_MW_APP=examples.django_project.wsgi:django_application gunicorn 'saasus_mw.entry:wsgi_app()'
"""

import os

from django.core.wsgi import get_wsgi_application

from saasus_mw import MarketplaceWSGIMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")

django_application = get_wsgi_application()
application = MarketplaceWSGIMiddleware(django_application)
