"""Runs the whole system on this machine as real processes on 127.0.0.1 (`make run`)."""
