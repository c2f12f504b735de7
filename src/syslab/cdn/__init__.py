"""A self-hosted CDN: a caching HTTP reverse proxy (RFC 9111), tiers, push and purge.

The HTTP caching rules (`rfc9111`), the stores and the eviction policies are plain objects
without I/O; `server` drives them from a uvloop fast path for hits and asyncio for misses.
"""
