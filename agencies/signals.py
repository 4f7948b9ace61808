"""Events of staff accounts that apps above agencies react to (alerts tells the agency's admins
and managers, and ends the user's alert sockets).

agencies/services.py sends them inside the transaction of the write, at the point where the
reaction belongs; Django signals are synchronous, so each receiver runs there, in that
transaction, in the order it was connected (in the reacting app's `AppConfig.ready()`).
"""

from django.dispatch import Signal

# A staff account was created, its role changed, or it was deactivated, by a person (not the
# system). Arguments: staff (the StaffMember, with its user), by_user, summary.
staff_changed = Signal()

# Every way in of a user ends in this transaction (deactivation: sent where the API tokens are
# deleted, whether or not the account was still active). Argument: user_id.
staff_ways_in_ended = Signal()

# An active account's deactivation is recorded (sent last). Argument: user_id.
staff_deactivated = Signal()

# An API token was revoked (its row deleted) in this transaction. Arguments: user_id (its
# owner), token_id.
api_token_revoked = Signal()
