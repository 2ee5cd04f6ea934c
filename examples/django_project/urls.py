from django.urls import path

from .views import callback, home, welcome

urlpatterns = [path("", home), path("welcome", welcome), path("callback", callback)]
