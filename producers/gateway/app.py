"""The HTTP ingest gateway: POST /v1/transactions for systems that cannot speak Kafka.

A request carries one event (a JSON object) or a batch (a JSON array, up to
TAHAWUL_GATEWAY_MAX_BATCH). In order, the gateway:

1. authenticates the caller's API key from the Authorization header (401 when missing,
   wrong or revoked) *before reading any of the body*, and closes the connection on a 401:
   an unauthenticated client costs no memory however large a body it announces. Then it
   reads the body under a cap (:func:`max_body_bytes`: 413 at once for a larger
   Content-Length, or as soon as a chunked body passes it) and a deadline
   (TAHAWUL_GATEWAY_BODY_TIMEOUT: 408). The request head has its own deadline and the
   connections a cap (:mod:`tahawul.producers.gateway.connections`);
2. refuses the whole request (403, nothing sent, counted in
   ``tahawul_gateway_foreign_entity_total``) if any event names another entity than the
   caller's: one entity's credentials never count transactions for another;
3. applies the caller's rate limit (429 with Retry-After, nothing sent);
4. validates every event with the pipeline's own validator
   (:func:`tahawul.schemas.event.parse`); fields outside the contract are refused
   (``unknown_field``), never passed on;
5. sends the valid, new events keyed by entity, in batched records of up to 1000 events
   (schemas/batch.py; each signed as a whole with the gateway's own key, which the
   workers' trust file lets vouch for the entities it authenticates: delivery.py), and waits
   until the broker acknowledged every one (503 otherwise: retry as is);
6. answers per item: ``accepted``, ``duplicate`` (already delivered) or ``rejected`` with
   the code and reason. 200 when none was rejected, 422 when any was (the others in the
   request were still accepted; re-sending the corrected batch is safe).

An item may also be a control total (schemas/control_total.py, ``"kind": "control_total"``):
the entity's own statement of what it completed on a day, service and channel, for systems
that state totals instead of (or beside) the SDK. It goes through the same steps (its entity
must be the caller's, it takes one from the rate allowance), is validated with its own
contract, and is always sent (a restatement is not a duplicate: the latest one counts).

An item may also be an exchange half (schemas/exchange.py, ``"kind": "exchange"``): the
caller's report of one data exchange over the integration platform. Its reporter (the
provider for ``side=provider``, the consumer for ``side=consumer``) must be the caller, so
one party's credentials never report the other party's half (403 ``foreign_entity``); it is
always sent (the counting writer drops resends and pairs the halves).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from tahawul.producers.batching import Batcher
from tahawul.producers.gateway.credentials import AuthError, CredentialStore
from tahawul.producers.gateway.delivery import Delivery, NotAcknowledged, Record
from tahawul.producers.gateway.metrics import GatewayMetrics
from tahawul.producers.gateway.ratelimit import RateLimiter
from tahawul.producers.gateway.seen import DeliveredIndex
from tahawul.schemas.control_total import ControlTotal, parse_either
from tahawul.schemas.event import Event, InvalidEvent, in_contract_order
from tahawul.schemas.exchange import Exchange, claimed_reporter
from tahawul.schemas.jsonschema import build as event_json_schema
from tahawul.schemas.jsonschema import build_control_total, build_exchange
from tahawul.schemas.reference import Catalogue

API_VERSION = "1.0.0"
bearer = HTTPBearer(auto_error=False, description="API key from `tahawul credentials issue ENTITY`.")


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the request (0 for a single event).")
    event_id: str | None = Field(None, description="The event's id, when it had a readable one.")
    status: Literal["accepted", "duplicate", "rejected"] = Field(
        description="accepted: acknowledged by the broker, will be counted; duplicate: this "
        "event_id was already delivered with the same content (counted once); rejected: see code.")
    code: str | None = Field(None, description="Stable error code when rejected (as in the pipeline).")
    reason: str | None = Field(None, description="What to fix, when rejected.")


class IngestResponse(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[EventResult]


class ErrorBody(BaseModel):
    error: str = Field(description="Stable error code.")
    message: str = Field(description="What went wrong and what to do.")
    events: list[int] | None = Field(None, description="Indexes of the offending events, if any.")


@dataclass
class Services:
    """Everything a running gateway uses; absent when only the OpenAPI document is built."""

    credentials: CredentialStore
    seen: DeliveredIndex
    delivery: Delivery
    limiter: RateLimiter
    catalogue: Catalogue
    metrics: GatewayMetrics


# Bytes allowed per event in a request body. The largest *valid* event is about 330 bytes
# of compact JSON (a UUID, an RFC 3339 time with nanoseconds and offset, the reference
# data's longest codes, "abandoned", 100000, false, 5); 1 KiB leaves room for
# pretty-printing (tests/unit/test_gateway_limits.py checks both). Not MAX_PAYLOAD_BYTES
# (16 KiB): that bounds what a worker reads from Kafka, where no valid event comes near it,
# and 1000 of them made a 16 MB body anyone could make the gateway hold.
EVENT_BYTES = 1024
# The array's brackets and separators, and slack for a trailing newline.
BODY_OVERHEAD = 1024


def max_body_bytes(max_batch: int) -> int:
    """Largest accepted request body: a full batch of the largest valid events, pretty-printed
    (1000 events: 1 MiB). A larger body is refused 413 unread."""
    return max_batch * EVENT_BYTES + BODY_OVERHEAD


def _error(status: int, error: str, message: str, events: list[int] | None = None,
           headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if events is not None:
        body["events"] = events
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers=headers)


# Sent with every answer that leaves a body unread (401, 408, 413): uvicorn (h11) then closes
# the connection instead of reading and discarding the rest of the body.
CLOSE = {"Connection": "close"}


async def _read_body(request: Request, limit: int, timeout: float,
                     refused: Callable[[str], None]) -> bytes:
    """The request body, read only after the caller is authenticated, under a cap and a
    deadline: a Content-Length above ``limit`` is refused before a byte is read, a chunked
    body as soon as it passes it (413); a body not complete within ``timeout`` seconds is
    cut (408). ``refused(reason)`` counts a refusal."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        refused("too_large")
        raise _Refused(413, "body_too_large", f"the request body exceeds {limit} bytes",
                       headers=CLOSE)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    refused("too_large")
                    raise _Refused(413, "body_too_large", f"the request body exceeds {limit} bytes",
                                   headers=CLOSE)
                chunks.append(chunk)
    except TimeoutError:
        refused("timeout")
        raise _Refused(408, "body_timeout", f"the request body did not arrive within {timeout:g} s "
                       f"({size} bytes received); send it faster or in smaller batches",
                       headers=CLOSE) from None
    except ClientDisconnect:
        raise _Refused(400, "client_disconnected", "the client closed the connection "
                       "before the body was complete", headers=CLOSE) from None
    return b"".join(chunks)


def _responses() -> dict[int | str, dict[str, Any]]:
    def err(description: str) -> dict[str, Any]:
        return {"model": ErrorBody, "description": description}

    return {
        200: {"model": IngestResponse, "description": "Every event accepted or a duplicate."},
        400: err("The body is not JSON, not an event or array of events, or an empty array."),
        401: err("No API key, a wrong one, or a revoked one. The body is not read and the "
                 "connection is closed."),
        403: err("An event names another entity than the caller's; nothing was sent."),
        408: err("The body did not arrive within TAHAWUL_GATEWAY_BODY_TIMEOUT; nothing was sent "
                 "and the connection is closed."),
        413: err("More events than the batch limit, or a body larger than 1 KiB per event of the "
                 "batch limit (refused unread, the connection closed); nothing was sent."),
        422: {"model": IngestResponse,
              "description": "Some events were rejected (see results); the others were accepted."},
        429: err("The entity's rate limit is exceeded; retry after Retry-After seconds. Nothing sent."),
        503: err("Kafka did not acknowledge the events in time; retry the same request."),
    }


def create_app(services: Services | None, max_batch: int, body_timeout: float = 30.0) -> FastAPI:
    """The gateway's routes. /metrics is not one of them: it is served on its own port
    (TAHAWUL_GATEWAY_METRICS_PORT, loopback by default, :mod:`.server`), so the public port
    shows no per-entity figures before they are published."""
    app = FastAPI(
        title="tahawul ingest gateway",
        version=API_VERSION,
        description="Send transaction events (contract v1) to the national counting pipeline "
        "over HTTPS. See docs/producers.md.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.max_batch = max_batch
    app.state.max_body = max_body_bytes(max_batch)
    app.state.body_timeout = body_timeout

    @app.get("/healthz", summary="Liveness: the process answers.", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Readiness: Kafka reachable and the credential store readable.",
             tags=["operations"], responses={503: {"description": "Not ready."}})
    def readyz(request: Request) -> Response:
        svc: Services = request.app.state.services
        checks = {"kafka": svc.delivery.ready()}
        try:
            svc.credentials.list(entity="")
            checks["credentials"] = True
        except Exception:
            checks["credentials"] = False
        ready = all(checks.values())
        return Response(orjson.dumps({"ready": ready, "checks": checks}),
                        status_code=200 if ready else 503, media_type="application/json")

    @app.post(
        "/v1/transactions",
        summary="Send one event or a batch of events.",
        description=(
            f"Body: one event (JSON object) or an array of 1 to {max_batch} events, each in "
            "contract v1 (schemas/event-v1.schema.json) with `entity` equal to the caller's. "
            "An item may instead be a control total (schemas/control-total-v1.schema.json): "
            "the caller's own count of completed transactions for a day, service and channel, "
            "or an exchange half (schemas/exchange-v1.schema.json) the caller reports (its "
            "provider for side=provider, its consumer for side=consumer). "
            "Answers after the broker acknowledged every accepted item."),
        tags=["ingest"],
        response_model=IngestResponse,
        responses=_responses(),
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
            "oneOf": [
                {"$ref": "#/components/schemas/EventV1"},
                {"type": "array", "items": {"oneOf": [
                    {"$ref": "#/components/schemas/EventV1"},
                    {"$ref": "#/components/schemas/ControlTotalV1"},
                    {"$ref": "#/components/schemas/ExchangeV1"}]},
                 "minItems": 1, "maxItems": max_batch},
                {"$ref": "#/components/schemas/ControlTotalV1"},
                {"$ref": "#/components/schemas/ExchangeV1"},
            ]}}}}},
    )
    async def ingest(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Response:
        # Async, and the body read by hand: FastAPI reads no body for this route, so the key
        # is checked from the head alone and a 401 leaves the body unread.
        svc: Services = request.app.state.services
        state = request.app.state
        started = time.perf_counter()
        entity = ""
        response = _error(500, "internal", "unexpected error")
        try:
            try:
                entity, _key_id = await run_in_threadpool(
                    svc.credentials.authenticate,
                    credentials.credentials if credentials is not None else None)
            except AuthError as exc:
                svc.metrics.auth_failures.labels(exc.reason).inc()
                response = _error(401, "unauthorized", exc.message,
                                  headers={"WWW-Authenticate": "Bearer", **CLOSE})
                return response
            try:
                refused_as = svc.metrics.bodies_refused
                body = await _read_body(request, state.max_body, state.body_timeout,
                                        lambda reason: refused_as.labels(reason, entity).inc())
            except _Refused as refused:
                response = refused.response
                return response
            response = await run_in_threadpool(_ingest, svc, entity, body, state.max_batch)
            return response
        finally:
            svc.metrics.requests.labels(str(response.status_code), entity).inc()
            svc.metrics.latency.observe(time.perf_counter() - started)

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            event_schema = {k: v for k, v in event_json_schema().items() if k not in ("$schema", "$id")}
            total_schema = {k: v for k, v in build_control_total().items() if k not in ("$schema", "$id")}
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            schemas["EventV1"] = event_schema
            schemas["ControlTotalV1"] = total_schema
            schemas["ExchangeV1"] = {k: v for k, v in build_exchange().items() if k not in ("$schema", "$id")}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app


class _Refused(Exception):
    """A step of :func:`_ingest` answers the whole request with this error instead of with
    per-event results."""

    def __init__(self, status: int, error: str, message: str, events: list[int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.response = _error(status, error, message, events, headers)


Result = dict[str, Any]  # one event's entry of the answer's "results" (an EventResult)
Valid = tuple[int, bytes, Event | ControlTotal | Exchange]  # index in the request, payload, parsed item
# payload, parsed item, fingerprint (0: not an event)
ToSend = tuple[bytes, Event | ControlTotal | Exchange, int]


def _ingest(svc: Services, entity: str, body: bytes, max_batch: int) -> Response:
    """POST /v1/transactions for an authenticated ``entity``, in the order of the module
    docstring: the checks that refuse the request whole come first, so nothing is sent
    unless all of them pass; then each event gets its own answer."""
    try:
        items = _events_of(body)
        _check_batch_size(items, max_batch)
        _check_entity(svc, entity, items)
        _check_rate(svc, entity, len(items))
        results, valid = _validate(svc.catalogue, items)
        to_send = _not_yet_delivered(svc.seen, entity, valid, results)
        _deliver(svc, entity, to_send)
    except _Refused as refused:
        return refused.response
    return _answer(svc.metrics, entity, results)


def _events_of(body: bytes) -> list[Any]:
    """The request's events, a single object counting as a batch of one. A body that is not
    JSON, neither an object nor an array, or an empty array is refused (400) before any
    event is looked at: the client's request is malformed, not its events."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Refused(400, "not_json", f"the body is not valid JSON: {exc}") from None
    if isinstance(decoded, dict):
        return [decoded]
    if not isinstance(decoded, list):
        raise _Refused(400, "not_an_event",
                       "the body must be one event (a JSON object) or an array of events")
    if not decoded:
        raise _Refused(400, "empty_batch", "the array holds no events")
    return decoded


def _check_batch_size(items: list[Any], max_batch: int) -> None:
    """Refuse more events than TAHAWUL_GATEWAY_MAX_BATCH (413): the whole request is
    validated, delivered and answered in one go, so its size bounds the gateway's memory and
    the time to answer."""
    if len(items) > max_batch:
        raise _Refused(413, "batch_too_large",
                       f"{len(items)} events in one request; the limit is {max_batch}")


def _check_entity(svc: Services, entity: str, items: list[Any]) -> None:
    """Refuse the whole request (403) if any event names another entity than the caller's:
    one entity's credentials never count transactions for another. Checked before the rate
    limit, so a spoofing attempt is counted as such (and costs the entity no allowance)."""
    foreign = [i for i, item in enumerate(items) if isinstance(item, dict) and (
        (isinstance(item.get("entity"), str) and item["entity"] != entity)
        or claimed_reporter(item) not in (None, entity))]  # an exchange half's reporter
    if foreign:
        svc.metrics.foreign_entity.labels(entity).inc()
        raise _Refused(403, "foreign_entity",
                       f"this API key sends for {entity} only; {len(foreign)} event(s) name another "
                       "entity. Nothing of this request was sent.", events=foreign[:100])


def _check_rate(svc: Services, entity: str, events: int) -> None:
    """Take the request's events from the entity's allowance or refuse it whole (429 with
    Retry-After): one entity's runaway job must not crowd out the others. A batch larger
    than the burst can never fit, so its answer says to send smaller batches."""
    wait = svc.limiter.take(entity, events)
    if wait <= 0:
        return
    svc.metrics.rate_limited.labels(entity).inc()
    if math.isinf(wait):
        raise _Refused(429, "rate_limited",
                       f"a batch of {events} exceeds the burst allowance of {entity}; send smaller "
                       "batches", headers={"Retry-After": "1"})
    raise _Refused(429, "rate_limited",
                   f"{entity} is over its rate limit of {svc.limiter.rate:g} events/s; nothing was sent",
                   headers={"Retry-After": str(max(1, math.ceil(wait)))})


def _validate(catalogue: Catalogue, items: list[Any]) -> tuple[list[Result], list[Valid]]:
    """Each event's result, in request order, and the valid events. Validation is the
    pipeline's own (:func:`tahawul.schemas.event.parse`), so a rejected event carries the
    code and reason a worker would record; an invalid event does not stop the others."""
    results: list[Result] = []
    valid: list[Valid] = []
    for index, item in enumerate(items):
        # An event's members in the contract's order (the workers' fast path reads them so).
        payload = orjson.dumps(in_contract_order(item) if isinstance(item, dict) and "kind" not in item
                               else item)
        event_id = item.get("event_id") if isinstance(item, dict) else None
        try:
            parsed = parse_either(payload, catalogue)
        except InvalidEvent as exc:
            results.append({"index": index, "event_id": event_id if isinstance(event_id, str) else None,
                            "status": "rejected", "code": exc.code, "reason": exc.message})
            continue
        results.append({"index": index, "event_id": parsed.event_id if isinstance(parsed, Event) else None,
                        "status": "accepted"})
        valid.append((index, payload, parsed))
    return results, valid


def _not_yet_delivered(delivered: DeliveredIndex, entity: str, valid: list[Valid],
                       results: list[Result]) -> list[ToSend]:
    """The valid events to send: those the gateway has not delivered before. A copy of a
    delivered event (earlier or in this request) with the same content is answered
    ``duplicate`` and not sent again, one with other content is rejected
    (``event_id_conflict``), as the counting writer would do. A courtesy to retrying
    clients, not what keeps counts exact (see :mod:`tahawul.producers.gateway.seen`). Only
    the caller's entity's own events are looked at (every event here is of ``entity``): the
    answer never depends on, or tells of, what another entity sent."""
    ids = [e.event_id for _, _, e in valid if isinstance(e, Event)]
    known = delivered.lookup(entity, ids) if ids else {}
    to_send: list[ToSend] = []
    in_request: dict[str, int] = {}
    for index, payload, event in valid:
        if not isinstance(event, Event):  # a control total or exchange half: always sent
            to_send.append((payload, event, 0))
            continue
        fingerprint = event.fingerprint()
        previous = known.get(event.event_id, in_request.get(event.event_id))
        if previous is None:
            in_request[event.event_id] = fingerprint
            to_send.append((payload, event, fingerprint))
        elif previous == fingerprint:
            results[index]["status"] = "duplicate"
        else:
            results[index].update(status="rejected", code="event_id_conflict",
                                  reason="this entity already sent an event with this event_id and "
                                  "different content")
    return to_send


def _deliver(svc: Services, entity: str, to_send: list[ToSend]) -> None:
    """Send the events and return only once the broker acknowledged every one (``acks=all``),
    then remember them as delivered; otherwise refuse the request (503): the client retries
    it as is, and whatever did arrive is counted once.

    One batched record per up to MAX_BATCH_EVENTS events (schemas/batch.py), signed as a
    whole: the workers validate and count each event on its own, many times faster than one
    record per event. Every event here is of the caller's entity."""
    if not to_send:
        return
    records: list[Record] = []
    key = entity.encode()
    batcher = Batcher(lambda value, k, headers: records.append((value, key, headers)))
    for payload, _, _ in to_send:
        batcher.add(payload, key)
    batcher.flush()
    try:
        svc.delivery.deliver(records)
    except NotAcknowledged as exc:
        svc.metrics.not_acknowledged.inc()
        raise _Refused(503, "not_acknowledged",
                       f"Kafka did not acknowledge the events ({exc}); retry the same request: "
                       "events that did arrive are counted once", headers={"Retry-After": "5"}) from None
    svc.seen.remember((e.event_id, fp, e.entity) for _, e, fp in to_send if isinstance(e, Event))


def _answer(metrics: GatewayMetrics, entity: str, results: list[Result]) -> Response:
    """The per-event answer with its totals: 200 when no event was rejected, 422 when any
    was (the others were still accepted, so re-sending the corrected batch is safe). Each
    outcome and rejection code is counted in the metrics."""
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for r in results:
        counts[r["status"]] += 1
        if r["status"] == "rejected":
            metrics.rejections.labels(r["code"], entity).inc()
    for outcome, n in counts.items():
        if n:
            metrics.events.labels(outcome, entity).inc(n)
    body = orjson.dumps({**counts, "results": results})
    return Response(body, status_code=422 if counts["rejected"] else 200, media_type="application/json")


def openapi_document(max_batch: int) -> dict[str, Any]:
    """The OpenAPI document of the gateway (committed as schemas/gateway-openapi.json)."""
    return create_app(None, max_batch).openapi()


def render_openapi(max_batch: int) -> str:
    return orjson.dumps(openapi_document(max_batch), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                        ).decode() + "\n"
