"""The reference cloud: a small, real, persisting counterpart of the store hub's replication.

It receives every store's event batches (pushed, or pulled from the hub's feed), holds
each event once, shows the gaps, and publishes inbound items (prices, products, pickup
orders, loyalty balances, other stores' stock) for the stores to fetch.  It imports
nothing of ``hub/``, ``devices/`` or ``bus/``: the HTTP contract in ``docs/cloud.md`` is
all it shares with them.

``server.run_cloud`` builds and runs the whole thing; ``app.create_cloud_app`` is the
HTTP face; ``db`` is the only module that touches SQL.
"""
