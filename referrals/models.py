"""Referrals ("requests for support") to the early help front door, and its decisions.

A referral is what a practitioner knows of a household and why they are worried; it is not the
family record. The front door (cases.access `is_front_door`) screens it against what is known
and decides; a decision to open joins it to a family. Who sees what: decision 0026."""

from django.conf import settings
from django.db import models

from agencies.models import Agency
from cases.models import Family, HeadlineOutcome, Relationship
from consent.models import ConsentMethod

User = settings.AUTH_USER_MODEL


class Urgency(models.TextChoices):
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


# The queue's order: urgent first, then the oldest.
URGENCY_RANK = {Urgency.URGENT: "0", Urgency.ROUTINE: "1"}


class ReferralStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted for early help"
    SIGNPOSTED = "signposted", "Signposted to a universal service"
    STEPPED_UP = "stepped_up", "Stepped up to children's social care"
    NO_FURTHER_ACTION = "no_further_action", "No further action"


class Decision(models.TextChoices):
    ACCEPT = "accept", "Accept for early help"
    SIGNPOST = "signpost", "Signpost to a universal service"
    STEP_UP = "step_up", "Step up to children's social care"
    NO_FURTHER_ACTION = "no_further_action", "No further action"


DECISION_STATUS = {
    Decision.ACCEPT: ReferralStatus.ACCEPTED,
    Decision.SIGNPOST: ReferralStatus.SIGNPOSTED,
    Decision.STEP_UP: ReferralStatus.STEPPED_UP,
    Decision.NO_FURTHER_ACTION: ReferralStatus.NO_FURTHER_ACTION,
}


class Source(models.TextChoices):
    PRACTITIONER = "practitioner", "A practitioner"
    IDENTIFICATION = "identification", "Data matching (identification)"


class Referral(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    referred_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.PRACTITIONER)
    household_name = models.CharField(max_length=200)
    postcode = models.CharField(max_length=8)
    address = models.TextField(blank=True, default="")
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    # The family's consent to the referral (who, how, when), or why it was made without it.
    consent_given_by = models.CharField(max_length=200, blank=True, default="")
    consent_method = models.CharField(
        max_length=10, choices=ConsentMethod.choices, blank=True, default=""
    )
    consent_given_on = models.DateField(null=True, blank=True)
    no_consent_reason = models.TextField(blank=True, default="")
    submitted_at = models.DateTimeField()
    # urgency rank + submission time + id: unique, the front door's queue order (cursor pages)
    queue_key = models.CharField(max_length=40, unique=True)
    status = models.CharField(
        max_length=20, choices=ReferralStatus.choices, default=ReferralStatus.SUBMITTED
    )
    decision_reason = models.TextField(blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The family it opened, reopened or joined (shown only to those who see that family).
    family = models.ForeignKey(
        Family, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    # Set when the retention rule replaced the personal details of a referral never joined to a
    # family (referrals.services.referral_unjoined_pseudonymise).
    pseudonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["queue_key"]
        indexes = [models.Index(fields=["agency", "queue_key"])]

    @property
    def reference(self) -> str:
        return f"R{self.id:06d}"


class ReferralPerson(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="people")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    nhs_number = models.CharField(max_length=10, blank=True, default="")
    upn = models.CharField(max_length=13, blank=True, default="")

    class Meta:
        ordering = ["id"]


class ReferralConcern(models.Model):
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="concerns")
    outcome = models.ForeignKey(HeadlineOutcome, on_delete=models.PROTECT, related_name="+")
    descriptor = models.CharField(max_length=300)

    class Meta:
        ordering = ["id"]
