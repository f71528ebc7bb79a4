from django.urls import path

from mindpost.web import views

urlpatterns = [
    path("", views.landing, name="landing"),
]
