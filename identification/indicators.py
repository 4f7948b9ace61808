"""The indicators of the 2022 framework as data: each indicator code and the headline outcome
(cases.HeadlineOutcome code of that framework version) it evidences, and how many different
headline outcomes make a household a candidate. Loaded into the database by a data migration
(identification.IndicatorFramework and Indicator rows); a new framework is new rows, not code."""

FRAMEWORK_2022 = {"version": "2022", "label": "Supporting Families 2022", "min_outcomes": 3}

INDICATORS_2022 = [
    # (code, label, headline outcome code)
    ("school_attendance", "Missing 10% or more of school sessions", "education"),
    ("school_suspension", "Suspended or excluded from school", "education"),
    ("missing_education", "Child missing education", "education"),
    ("neet", "Young person not in education, employment or training", "education"),
    ("early_years", "Early years development concern", "early_years"),
    ("mental_health", "Mental health need", "health"),
    ("substance_misuse", "Substance misuse", "substance_use"),
    ("family_conflict", "Family conflict or relationship breakdown", "family_relationships"),
    ("child_in_need", "Child in need", "safe_from_abuse"),
    ("child_protection_plan", "Child protection plan", "safe_from_abuse"),
    ("exploitation", "Missing or at risk of exploitation", "safe_from_abuse"),
    ("asb", "Anti-social behaviour", "crime"),
    ("offending", "Offending", "crime"),
    ("domestic_abuse_notification", "Domestic abuse notification", "domestic_abuse"),
    ("rent_arrears", "Rent arrears", "housing"),
    ("homelessness", "Homeless or at risk of homelessness", "housing"),
    ("out_of_work_benefits", "Adult out of work", "financial_stability"),
    ("financial_exclusion", "Risk of financial exclusion", "financial_stability"),
]
