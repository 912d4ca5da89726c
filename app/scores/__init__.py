"""Scores on read: loads definitions and window statistics, runs the pure engine."""
