"""needmap's version: one place, below every layer, for the package root, model files and reports."""

from __future__ import annotations

__version__ = "0.1.0"
