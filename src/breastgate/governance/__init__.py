"""Governance: modes, approval, the audit chain, feedback, outcomes, metrics, drift, validation."""
