"""DevCapsules API: runtime-neutral application code (CPython and the Workers edge)."""

__version__ = "0.1.0"
