from django.urls import path

from identification import api

urlpatterns = [
    path("identification/indicators/", api.IndicatorList.as_view(), name="indicator-list"),
    path("identification/datasets/", api.DatasetListCreate.as_view(), name="dataset-list"),
    path(
        "identification/datasets/<int:dataset_id>/",
        api.DatasetDetail.as_view(),
        name="dataset-detail",
    ),
    path("identification/runs/", api.RunCreate.as_view(), name="match-run-list"),
    path("identification/runs/<int:run_id>/", api.RunDetail.as_view(), name="match-run-detail"),
    path("identification/candidates/", api.CandidateList.as_view(), name="candidate-list"),
    path(
        "identification/candidates/<int:candidate_id>/",
        api.CandidateDetail.as_view(),
        name="candidate-detail",
    ),
    path(
        "identification/candidates/<int:candidate_id>/decision/",
        api.CandidateDecision.as_view(),
        name="candidate-decision",
    ),
]
