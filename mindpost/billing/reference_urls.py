from django.urls import URLPattern

# The reference implementation served its Stripe webhook at /subscriptions/webhook/.
urlpatterns: list[URLPattern] = []
