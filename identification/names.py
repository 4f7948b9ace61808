"""Names as agencies write them: the familiar forms of given names, and the forms a name is
compared by (identification.linkage). Data, not rules: a council adds the forms its people use."""

from __future__ import annotations

import re

# Familiar forms of given names (the synthetic generator writes only forms listed here: a
# nickname nobody could know is no fair test of the matching).
NICKNAMES = {
    "William": ["Bill", "Will", "Billy"], "James": ["Jim", "Jimmy", "Jamie"],
    "Robert": ["Bob", "Rob", "Bobby"], "Thomas": ["Tom", "Tommy"], "Daniel": ["Dan", "Danny"],
    "Joseph": ["Joe", "Joey"], "Michael": ["Mike", "Mick"], "Christopher": ["Chris"],
    "Anthony": ["Tony"], "Matthew": ["Matt"], "Andrew": ["Andy", "Drew"], "Joshua": ["Josh"],
    "Benjamin": ["Ben"], "Samuel": ["Sam", "Sammy"], "Nicholas": ["Nick"],
    "Alexander": ["Alex"], "Jonathan": ["Jon", "Jonny"], "Richard": ["Rich", "Rick", "Dick"],
    "Edward": ["Ed", "Eddie", "Ted"], "Charles": ["Charlie", "Chas"], "Harry": ["Harold"],
    "Elizabeth": ["Liz", "Beth", "Lizzie", "Betty"], "Katherine": ["Kate", "Kathy", "Katie"],
    "Margaret": ["Maggie", "Peggy", "Meg"], "Jennifer": ["Jen", "Jenny"],
    "Rebecca": ["Becky", "Becca"], "Victoria": ["Vicky", "Tori"], "Jessica": ["Jess"],
    "Samantha": ["Sam", "Sammy"], "Abigail": ["Abby", "Abi"], "Alexandra": ["Alex", "Lexi"],
    "Natalie": ["Nat"], "Deborah": ["Debbie", "Deb"], "Susan": ["Sue", "Susie"],
    "Patricia": ["Pat", "Trish"], "Olivia": ["Liv"], "Amelia": ["Millie"], "Hannah": ["Hanna"],
}  # fmt: skip

# A familiar form -> the given names it stands for.
FORMAL: dict[str, set[str]] = {}
for _formal, _forms in NICKNAMES.items():
    for _form in _forms:
        FORMAL.setdefault(_form.lower(), set()).add(_formal.lower())

_NOT_LETTERS = re.compile(r"[^a-z]")


def name_clean(name: str | None) -> str:
    """Lower case letters only ("O'Brien-Smith" -> "obriensmith"); "" for none."""
    return _NOT_LETTERS.sub("", (name or "").lower())


def given_forms(given: str) -> list[str]:
    """The cleaned given name and the formal names it may stand for ("bill" -> bill, william)."""
    if not given:
        return []
    return sorted({given} | FORMAL.get(given, set()))
