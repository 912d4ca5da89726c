"""Measures (KPIs): definitions, targets, derived formulas and xAPI mappings."""
