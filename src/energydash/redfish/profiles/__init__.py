"""Device profiles: per PDU, the shape of its Redfish tree (``ENERGYDASH_PDU_PROFILES``).

``dmtf`` is today's conformant tree; ``schneider-mock``, ``raritan-px3`` and ``enlogic`` reshape
a PDU the way the public captures of those devices show it (``vendors``). Readings and
controls are the same engine's under every profile; only URIs, ids and a few properties
differ (``shaper``). ``profiled_table`` is the one hook the service needs (``table``).
"""

from energydash.redfish.profiles.shaper import Shaper
from energydash.redfish.profiles.table import ProfiledTable, profiled_table
from energydash.redfish.profiles.vendors import OCP_PROFILES, PROFILES, Profile, assign

__all__ = [
    "OCP_PROFILES",
    "PROFILES",
    "Profile",
    "ProfiledTable",
    "Shaper",
    "assign",
    "profiled_table",
]
