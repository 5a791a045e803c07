"""Reusable pieces of the dashboard: functions that return components, figures or patches."""
