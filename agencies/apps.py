from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "agencies"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from agencies.middleware import session_touched_on_sign_in
        from agencies.second_factor import second_factor_on_sign_in

        # A session signed in: its idle clock starts, and whether it must still give the code.
        user_logged_in.connect(session_touched_on_sign_in, dispatch_uid="agencies.session_touch")
        user_logged_in.connect(second_factor_on_sign_in, dispatch_uid="agencies.second_factor")
