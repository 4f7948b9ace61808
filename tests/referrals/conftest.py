import pytest

from tests import factories as f


@pytest.fixture(autouse=True)
def outcome_framework(db):
    """Referrals name their concerns by the framework's codes: loaded again when a transactional
    test that ran before flushed the rows its data migration loaded (`factories.outcome`)."""
    f.outcome("education")
