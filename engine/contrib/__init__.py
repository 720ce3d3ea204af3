"""Integrations kept apart from the core (huey's ``huey.contrib`` layout)."""
