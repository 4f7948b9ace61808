"""Page routes of the family record (the API's are in cases/urls.py)."""

from django.urls import path

from cases import views

urlpatterns = [
    path("", views.root, name="root"),
    path("home/", views.home, name="home"),
    # --- home pages ---
    path("caseload/", views.caseload, name="caseload"),
    path("families/", views.partner_families, name="partner-families"),
    path("manager/", views.manager_overview, name="manager-overview"),
    # --- the family page and its forms ---
    path("families/<int:family_id>/", views.family_detail_page, name="family-page"),
    path("families/<int:family_id>/edit/", views.family_edit, name="family-edit"),
    path("families/<int:family_id>/close/", views.family_close, name="family-close-page"),
    path("families/<int:family_id>/reopen/", views.family_reopen, name="family-reopen-page"),
    path("families/<int:family_id>/step-up/", views.family_step_up, name="family-step-up-page"),
    path(
        "families/<int:family_id>/step-down/", views.family_step_down, name="family-step-down-page"
    ),
    path("families/<int:family_id>/reviews/new/", views.review_new, name="review-new"),
    path(
        "families/<int:family_id>/history/", views.family_history_page, name="family-history-page"
    ),
    path("families/<int:family_id>/contacts/new/", views.contact_new, name="contact-new"),
    path(
        "families/<int:family_id>/interventions/new/",
        views.intervention_new,
        name="intervention-new",
    ),
    path("families/<int:family_id>/members/new/", views.member_new, name="member-new"),
    path("families/<int:family_id>/team/new/", views.team_new, name="team-new"),
    path(
        "families/<int:family_id>/team/<int:involvement_id>/end/",
        views.team_end,
        name="team-end",
    ),
    path("families/<int:family_id>/needs/new/", views.need_new, name="need-new"),
    path(
        "families/<int:family_id>/needs/<int:need_id>/status/",
        views.need_status,
        name="need-status",
    ),
    path(
        "families/<int:family_id>/assessments/new/",
        views.assessment_new,
        name="assessment-new",
    ),
    path("families/<int:family_id>/actions/new/", views.action_new, name="action-new"),
    path(
        "families/<int:family_id>/actions/<int:action_id>/edit/",
        views.action_edit,
        name="action-edit",
    ),
]
