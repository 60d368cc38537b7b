"""Helpers shared by the cross-service tests (importable as `support`)."""
