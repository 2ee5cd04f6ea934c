from django.urls import path

from .views import product

urlpatterns = [path("", product), path("welcome", product), path("callback", product)]
