"""The workshop's benches: `storehub bench …`.

harness.py builds the throwaway store (its own Mosquitto, the hub as a process, bench
tills) and measures phases; one module per bench (rtt, contention, scan, fiscal, api,
sync); echo.py is the raw-broker baseline's answerer; cli.py the command group and the
report tables of rtt, contention, scan and api (fiscal's and sync's are in their modules).
"""
