"""Alarms: rules on points, the alarm lifecycle, and notifications."""
