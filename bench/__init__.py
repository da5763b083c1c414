"""Benchmarks (`make bench`): each module measures against a baseline run in the same process."""
