"""Django management commands of :mod:`engine.contrib.djhuey`."""
