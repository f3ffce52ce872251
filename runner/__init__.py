"""runner: a declarative job runner."""

__version__ = "0.1.0"
