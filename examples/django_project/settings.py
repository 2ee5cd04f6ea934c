"""Settings for the example only: no database, no installed apps, DEBUG off."""

# For this example only: a real project reads its key from the environment.
SECRET_KEY = "example-only-not-secret-0d5f3a9c1b7e4f2a8c6d0e1f3b5a7c9e"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

ROOT_URLCONF = "examples.django_project.urls"
WSGI_APPLICATION = "examples.django_project.wsgi.application"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
USE_TZ = True
# Who signed in, in a signed cookie: no database. SESSION_COOKIE_SECURE = True in production
# (this example is also served over plain http on loopback).
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
SESSION_COOKIE_SAMESITE = "Lax"
