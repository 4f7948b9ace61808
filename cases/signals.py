"""Events of the family record that apps above cases react to (alerts tells people of them).

cases/services.py sends each one inside the transaction of the write, once the write's rows are
in, at the point where the reaction belongs; Django signals are synchronous, so each receiver
runs there, in that transaction, in the order it was connected (in the reacting app's
`AppConfig.ready()`), and what it writes commits or rolls back with the record.
"""

from django.dispatch import Signal

# An event other agencies hear of, its chronology entry written: a contact, an intervention, an
# agency joining the team. Arguments: family, by (the StaffMember who recorded it), kind (the
# chronology type), agency_id, summary (the chronology's, without the family reference),
# source_type, source_id, visibility.
family_event_recorded = Signal()

# The key worker changed, its chronology entry written. Arguments: family (with the new key
# worker), by, previous_id (the previous key worker's user id, or None), summary.
key_worker_changed = Signal()

# An agency left the team and the grants were recomputed. Arguments: family, involvement (the
# ended one, with its agency), change (the `access.GrantChange` of that sync: who lost sight).
team_left = Signal()

# A family closed longer than the retention period had its personal details replaced
# (`cases.retention.family_pseudonymise`), under its row lock. Arguments: family (as it is now).
# Each app above removes its own personal data of the family in this transaction (decision 0022).
family_pseudonymised = Signal()

# A lifecycle transition (closed, reopened, stepped up or down), its chronology entry written
# and, when the lead agency changed, the grants recomputed. Arguments: family (as it now is),
# by, kind (the chronology type: "family.closed", ...), summary, transition (the
# `FamilyTransition`), change (the `access.GrantChange` of the sync, empty when none ran).
family_transitioned = Signal()

# The review sweep reminds the key worker of a review: a week before it is due (leg "due") or
# once it has passed unreviewed ("overdue"). Arguments: family, leg, review_on.
review_reminder = Signal()
