"""Storage backends. ``engine.storage.base`` holds the contract every backend meets."""

from .base import Storage
from .memory import MemoryStorage

__all__ = ["MemoryStorage", "Storage"]
