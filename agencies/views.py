"""Pages for signing in and out (Django's session views in the Design System's look)."""

from django.contrib.auth import views as auth_views


class SignIn(auth_views.LoginView):
    template_name = "registration/sign_in.html"
    redirect_authenticated_user = True


class SignOut(auth_views.LogoutView):
    pass
