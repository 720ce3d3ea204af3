"""Integrations with frameworks, each behind an optional extra: never imported by the
engine itself (``import engine`` loads none of them).

* :mod:`engine.contrib.djhuey`: huey's ``huey.contrib.djhuey`` for Django projects,
  on this queue (``pip install 'hueyctl[django]'``; see docs/django.md).
"""
