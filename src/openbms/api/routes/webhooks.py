"""``POST /api/v1/sites/{site_id}/webhooks/rest/{name}``: values a vendor's cloud pushes, as samples now.

::

    vendor ──POST body, X-Signature: sha256=HEX──▶ receiver = Services.webhook_receiver(site, name)
        │ no receiver (unknown site, no such driver, the API runs without one): 404, one body for all
        │ receiver.verify(body, signature) false: 401, audited as access.denied (folded per minute)
        │ the body is not JSON, or names no device or values: 400
        └ receiver.deliver(payload) ──▶ the driver manager's change callback ──▶ samples on the bus

The route is public: the vendor holds no openbms account. What admits a call
is the HMAC-SHA256 of the exact body with the secret shared with the vendor
(``drivers: rest: webhook: secret_env|secret_file``), checked by the driver in
constant time. ``name`` is the driver's scheme (``rest``) or its shipped
profile's name (``thermostat``). The API reaches the driver only through the
service protocol ``Webhooks`` (``openbms.service.protocols``).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from openbms.api.auth.permissions import public, refusals
from openbms.api.auth.refusals import Refusal
from openbms.api.context import client_addr, get_context
from openbms.api.errors import ApiError, bad_request, not_found
from openbms.api.helpers import runtime_of
from openbms.errors import DriverError
from openbms.service.protocols import Webhooks

__all__ = ["SIGNATURE_HEADER", "router"]

router = APIRouter(prefix="/api/v1/sites/{site_id}/webhooks", tags=["webhooks"])

#: The header carrying ``sha256=`` and the body's HMAC-SHA256 in hex.
SIGNATURE_HEADER = "X-Signature"
#: Who the audit names for a refused webhook (the caller's address is kept in the row).
ACTOR = "webhook"


class WebhookAccepted(BaseModel):
    """A webhook taken: how many points it changed (0: none of its values is bound)."""

    changed: int = Field(description="points whose new value went on the bus")


@router.post("/rest/{name}", response_model=WebhookAccepted)
async def receive_rest_webhook(site_id: str, name: str, request: Request,
                               _: None = public()) -> WebhookAccepted:
    """Take a signed webhook from a vendor's REST service; its values become samples at once."""
    services = runtime_of(request)
    receiver = services.webhook_receiver(site_id, name) if isinstance(services, Webhooks) else None
    if receiver is None:  # one answer whether the site or the driver is missing: names nothing
        raise not_found(f"no webhook receiver at {request.url.path}")
    body = await request.body()
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not receiver.verify(body, signature):
        reason = "bad signature" if signature else "no signature"
        error = ApiError(401, f"{reason}: expected {SIGNATURE_HEADER}: sha256=HEX, the HMAC-SHA256 of "
                              "the body with the shared secret")
        await refusals(request).record(get_context(request), Refusal(
            actor=ACTOR, method="POST", route=router.prefix + "/rest/{name}", path=request.url.path,
            site=site_id, reason=reason, status=401, via="webhook", remote_addr=client_addr(request)))
        raise error
    try:
        payload = json.loads(body)
    except ValueError as err:
        raise bad_request(f"the body is not JSON: {err}") from None
    try:
        changed = receiver.deliver(payload)
    except DriverError as err:
        raise bad_request(str(err)) from None
    return WebhookAccepted(changed=changed)
