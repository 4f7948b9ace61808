from django.urls import path

from cases import api

F = "families/<int:family_id>/"

urlpatterns = [
    path("families/", api.FamilyListCreate.as_view(), name="family-list"),
    path(F, api.FamilyDetail.as_view(), name="family-detail"),
    path(F + "members/", api.MemberListCreate.as_view(), name="member-list"),
    path(F + "members/<int:member_id>/", api.MemberDetail.as_view(), name="member-detail"),
    path(F + "team/", api.TeamListCreate.as_view(), name="team-list"),
    path(F + "team/<int:involvement_id>/", api.TeamEnd.as_view(), name="team-detail"),
    path(F + "needs/", api.NeedListCreate.as_view(), name="need-list"),
    path(F + "needs/<int:need_id>/", api.NeedDetail.as_view(), name="need-detail"),
    path(F + "assessments/", api.AssessmentListCreate.as_view(), name="assessment-list"),
    path(F + "actions/", api.PlanActionListCreate.as_view(), name="action-list"),
    path(F + "actions/<int:action_id>/", api.PlanActionDetail.as_view(), name="action-detail"),
    path(F + "interventions/", api.InterventionListCreate.as_view(), name="intervention-list"),
    path(F + "contacts/", api.ContactListCreate.as_view(), name="contact-list"),
    path(F + "chronology/", api.ChronologyList.as_view(), name="chronology"),
    path(F + "history/", api.FamilyHistory.as_view(), name="family-history"),
    path(F + "reviews/", api.ReviewListCreate.as_view(), name="review-list"),
    path(F + "close/", api.FamilyClose.as_view(), name="family-close"),
    path(F + "reopen/", api.FamilyReopen.as_view(), name="family-reopen"),
    path(F + "step-up/", api.FamilyStepUp.as_view(), name="family-step-up"),
    path(F + "step-down/", api.FamilyStepDown.as_view(), name="family-step-down"),
    path("outcomes/", api.OutcomeList.as_view(), name="outcome-list"),
]
