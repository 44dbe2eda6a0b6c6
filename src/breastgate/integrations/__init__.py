"""Vendor integrations: everything specific to one vendor's products, one subpackage each."""
