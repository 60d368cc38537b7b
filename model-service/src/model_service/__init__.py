"""Serves the restaurant-review sentiment model and trains its releases."""
