"""EnergyDash: a realtime energy-telemetry workbench."""

__version__ = "0.1.0"
