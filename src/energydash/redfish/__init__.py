"""The DMTF Redfish SmartPDU service over the simulated fleet (see ``service``)."""

from energydash.auth import Caller
from energydash.redfish.service import RedfishService
from energydash.redfish.tls import ensure_self_signed_cert

__all__ = ["Caller", "RedfishService", "ensure_self_signed_cert"]
