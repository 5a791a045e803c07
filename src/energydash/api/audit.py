"""``GET /api/v1/audit``: the most recent control actions (the dashboard's "recent actions")."""

from __future__ import annotations

from fastapi import APIRouter, Request

from energydash.api.deps import CallerDep
from energydash.auth.audit import Auditor
from energydash.models.audit import AuditData

router = APIRouter(tags=["audit"])


@router.get("/audit", summary="Recent control actions: who, what, target, from where, result")
async def recent_actions(request: Request, _: CallerDep) -> AuditData:
    auditor: Auditor = request.app.state.auditor
    return auditor.data()
