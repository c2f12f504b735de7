"""Adapters: real stores (PostgreSQL, Redis, etcd, ZooKeeper, SQLite) and our MDSS store."""
