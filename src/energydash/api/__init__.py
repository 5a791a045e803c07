"""REST `/api/v1`: thin routers per resource family; logic lives in the hub and the engine."""
