"""Page routes for signing in and out (with the second factor's code and setting up an
authenticator app), and the agency admin's staff pages."""

from django.urls import path

from agencies import views

urlpatterns = [
    path("sign-in/", views.SignIn.as_view(), name="sign-in"),
    path("sign-out/", views.SignOut.as_view(), name="sign-out"),
    # --- the second factor ---
    path("sign-in/code/", views.sign_in_code, name="sign-in-code"),
    path("account/authenticator-app/", views.authenticator_setup, name="authenticator-setup"),
    # --- staff pages ---
    path("staff/", views.staff_page, name="staff-page"),
    path("staff/add/", views.staff_add, name="staff-add"),
    path("staff/<int:staff_id>/", views.staff_change, name="staff-change"),
    path("staff/<int:staff_id>/deactivate/", views.staff_deactivate, name="staff-deactivate"),
    path(
        "staff/<int:staff_id>/authenticator-reset/",
        views.staff_authenticator_reset,
        name="staff-authenticator-reset",
    ),
]
