"""Replication of the store's outbox to the central cloud: push, pull feed, inbound.

Imports nothing of ``hub/`` or ``devices/``; the hub hands it an outbox interface.
"""
