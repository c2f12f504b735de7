"""Transactions lab: consistency models measured on real stores, an MDSS store, a checker."""
