"""Page routes for sharing, consent and emergency access forms."""

urlpatterns = []
