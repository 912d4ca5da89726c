"""Readings: time-stamped values of a measure, typed in or pushed by an LMS."""
