"""The demo store: a store of its own on one machine, for trying StoreHub out
(``storehub demo``, ``make run``) and for the README's walk-through.

``storehub demo`` writes ``<dir>/storehub.toml`` afresh at every start (so new device
kinds appear as the product grows) and keeps the clients' secrets in
``<dir>/credentials.json`` (mode 0600) so they stay the same from one run to the next.
The simulators run in the demo's own process: serial ones on ptys linked under
``<dir>/dev/``, network ones on loopback ports; ``storehub sim`` drives them through
``<dir>/sim.sock``.  The ports stay clear of a system Mosquitto that Debian may have
started on 1883; ``--port-base N`` moves them all (``DemoPorts``), so two demos run
side by side, and ``<dir>/ports.json`` tells `storehub sim`, `sync` and `cloud` where
this demo's are.

The rooms:

- ``ports``: the loopback ports the demo listens on, ``ports.json``, and whether they are free.
- ``peripherals``: the demo's devices: their config, and the simulated checkout behind them.
- ``catalogue``: what the demo store sells, its prices, cards, pickups and opening stock.
- ``store``: the demo store before it opens: the config, credentials and cloud tokens it
  writes in its folder, and its database seeded from the catalogue.
- ``run``: the demo running: one a folder, what a killed one left, the reference cloud,
  the simulators and the hub started and stopped in order.
- ``cli``: the ``storehub demo`` and ``storehub sim`` commands.
"""
