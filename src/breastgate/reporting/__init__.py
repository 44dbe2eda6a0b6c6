"""Report wording: the AI report draft (BI-RADS, findings, recommendation) and patient density letters."""
