"""The REST API's routes, one module per resource, named as the tags /docs shows them
under: health, devices, products, stock, loyalty, pickups, orders, manager (the
manager's views), sync.  ``hub.api.create_api`` includes them in that order.

Every router reads bodies through the JSON door (``route_class=JsonRoute``).  A store
route names the part of the store it belongs to by its caller's alias (``Shopper``,
``Stocker``…, in ``hub.api.deps``; ``hub.permissions.STORE_ROLES`` says which roles may
use each); its refusals are the bus's error envelope, as every error of the API
(``hub.api.refusals``), with the field at fault in ``error.details.field``.

Lookups that read one indexed row or two (a product, a card) are ``async``: that takes
well under a millisecond, less than a trip through the thread pool costs.  Searches and
lists, which may read more, are plain functions and run in the pool.
"""
