"""Worklist state, priority policy and UPS-RS (DESIGN §2: imports domain, store, jobs, governance)."""
