"""Reporting: report-draft wording, patient density letters (MQSA) and risk models (BCRAT)."""
