"""The simulation: a SmartPDU fleet and a power grid with a market, advanced by one engine.

It knows nothing of HTTP, Dash or MQTT; faces read it and control it through
``Engine.execute`` (see ``energydash.sim.engine``).
"""
