"""Runners of the peer libraries of the accuracy benchmark, each in its own module."""
