"""The engine's version, on the ground floor so that telemetry (which writes it into
every registry record) need not import the package ``__init__`` above it."""

__version__ = "0.1.0"
