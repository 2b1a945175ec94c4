"""URL routes: the Django admin (with django_q at /admin/django_q/)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
