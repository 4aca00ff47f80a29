"""runyard's version: one place, importable from every layer (runs record it in their opref)."""

__version__ = "0.1.0"
