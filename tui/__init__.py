"""The technician's terminal console (Textual): a bus client like any till.

It imports only the client side of ``bus/`` and talks to the hub over MQTT and REST.
"""
