"""Integrations with frameworks, kept apart from the core (huey's ``huey.contrib``
layout); ``import engine`` loads none of them.

* :mod:`engine.contrib.djhuey`: huey's ``huey.contrib.djhuey`` for Django projects,
  on this queue (``pip install 'hueyctl[django]'``; see docs/django.md).
* :mod:`engine.contrib.asyncio`: huey's ``aget_result``/``aget_result_group`` (see
  docs/asyncio.md).
"""
