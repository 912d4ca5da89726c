"""Scorecards, their perspectives and objectives."""
