"""Region failover drills: inject a fault into a running world of regions while a workload
runs through the SDK, heal, and check Jepsen-style invariants on what every client saw.

- :mod:`chaos.world`: the running regions and control plane (``ops/world``), and the
  processes a scenario kills;
- :mod:`chaos.workload`: writers and readers that log every operation;
- :mod:`chaos.scenarios`: the faults, each with its heal;
- :mod:`chaos.checks`: the invariants, over the logs and the healed stores;
- :mod:`chaos.report`: the figures, a markdown report and a PNG timeline;
- :mod:`chaos.drill`: one drill from set-up to report; ``python -m chaos`` and
  ``granary drill`` run them.

Drills send traffic only to the loopback services ``ops/world`` started, are bounded in
time and operations, and give back what they broke even when they fail.
"""
