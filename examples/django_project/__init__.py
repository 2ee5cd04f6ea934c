"""A minimal Django project (no database, no apps), wrapped in one line in wsgi.py and asgi.py.

DJANGO_SETTINGS_MODULE is set by wsgi.py / asgi.py; run from the repository root:

gunicorn examples.django_project.wsgi:application
uvicorn examples.django_project.asgi:application
"""
