"""Trace-driven cache-eviction simulator: readers, policies, fast kernels, MRCs, analysis."""
