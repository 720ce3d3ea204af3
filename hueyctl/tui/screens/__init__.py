"""The dashboard and the screens pushed over it."""
