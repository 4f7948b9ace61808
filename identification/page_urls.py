"""Page routes of identification (the API's are in identification/urls.py)."""

from django.urls import path

from identification import views

urlpatterns = [
    path("identification/", views.identification_home, name="identification-home"),
    path("identification/upload/", views.dataset_upload_page, name="identification-upload"),
    path("identification/runs/", views.run_start_page, name="identification-run-start"),
    path("identification/runs/<int:run_id>/", views.run_page, name="identification-run"),
    path(
        "identification/candidates/",
        views.candidate_list_page,
        name="identification-candidates",
    ),
    path(
        "identification/candidates/<int:candidate_id>/",
        views.candidate_page,
        name="identification-candidate",
    ),
]
