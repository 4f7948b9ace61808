"""Page routes for signing in and out, and the agency admin's staff pages."""

from django.urls import path

from agencies import views

urlpatterns = [
    path("sign-in/", views.SignIn.as_view(), name="sign-in"),
    path("sign-out/", views.SignOut.as_view(), name="sign-out"),
    # --- staff pages ---
]
