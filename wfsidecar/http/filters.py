"""Query parameters → the read model's one filter and query (store/instances.py).

List, count and the bulk operations select instances with the same parameters, so a
filter that lists ten instances purges exactly those ten. A parameter this route does
not know is refused rather than ignored: a misspelt ``stauts=FAILED`` on a bulk purge
must not select every finished instance.
"""

from __future__ import annotations

from multidict import MultiMapping

from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.http.errors import INVALID_CURSOR, INVALID_QUERY, ApiError
from wfsidecar.http.wire import parse_time
from wfsidecar.store.instances import MAX_PAGE, SORT_FIELDS, InstanceFilter, InstanceQuery

FILTER_PARAMETERS = (
    "status", "name", "idPrefix", "parentID", "createdFrom", "createdTo", "updatedFrom",
    "updatedTo", "completedFrom", "completedTo", "stalled")
LIST_PARAMETERS = (*FILTER_PARAMETERS, "sort", "order", "pageSize", "cursor", "count")
BULK_PARAMETERS = (*FILTER_PARAMETERS, "dryRun")
STATUS_NAMES = tuple(s.name for s in RuntimeStatus)
_TIMES = {"created": ("createdFrom", "createdTo"), "updated": ("updatedFrom", "updatedTo"),
          "completed": ("completedFrom", "completedTo")}


def instance_filter(query: MultiMapping[str], allowed: tuple[str, ...]) -> InstanceFilter:
    """The filter the query parameters describe (every one given must match).

    Raises:
        ApiError: 400 ``ERR_INVALID_QUERY`` for an unknown parameter, status name, time or
            boolean.
    """
    unknown = sorted(k for k in query if k not in allowed)
    if unknown:
        raise ApiError(400, INVALID_QUERY, (
            f"unknown query parameter {unknown[0]!r}; this route takes {', '.join(allowed)}"))
    statuses = {int(_status(name)) for value in query.getall("status", [])
                for name in value.split(",") if name.strip()}
    if flag(query, "stalled"):
        # Same as status=STALLED; with other statuses given, only those that are STALLED.
        # (-1 is no status: STALLED was not among those asked for, so nothing matches.)
        stalled = int(RuntimeStatus.STALLED)
        statuses = ({stalled} & statuses if statuses else {stalled}) or {-1}
    times: dict[str, int | None] = {}
    for field, (low, high) in _TIMES.items():
        times[f"{field}_from_ms"] = _time(query, low)
        times[f"{field}_to_ms"] = _time(query, high)
    return InstanceFilter(
        statuses=frozenset(statuses), name=_text(query, "name"),
        id_prefix=query.get("idPrefix", ""), parent_id=_text(query, "parentID"), **times)


def instance_query(query: MultiMapping[str]) -> InstanceQuery:
    """The page the list route's parameters ask for.

    Raises:
        ApiError: 400 ``ERR_INVALID_QUERY`` for a bad filter, sort, order or page size;
            400 ``ERR_INVALID_CURSOR`` for a cursor this query did not hand out.
    """
    flt = instance_filter(query, LIST_PARAMETERS)
    sort = query.get("sort", "created")
    if sort not in SORT_FIELDS:
        raise ApiError(400, INVALID_QUERY,
                       f"sort={sort!r} is not one of {', '.join(SORT_FIELDS)}")
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, INVALID_QUERY, f"order={order!r} is not asc or desc")
    size_text = query.get("pageSize", "100")
    if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE:
        raise ApiError(400, INVALID_QUERY,
                       f"pageSize={size_text!r} is not a number from 1 to {MAX_PAGE}")
    result = InstanceQuery(flt, sort, descending=order == "desc", limit=int(size_text),
                           cursor=query.get("cursor") or None)
    check_cursor(result)
    return result


def check_cursor(query: InstanceQuery) -> None:
    """Refuse a cursor that is not one of this query's before any store is asked."""
    try:
        query.after()
    except InvalidArgumentError as exc:
        raise ApiError(400, INVALID_CURSOR, (
            f"{exc}; pass back the nextCursor of the previous page unchanged, with the "
            "same sort and order")) from exc


def flag(query: MultiMapping[str], name: str) -> bool:
    """A boolean parameter: true/false (1/0); absent is false.

    Raises:
        ApiError: 400 ``ERR_INVALID_QUERY`` for another value.
    """
    value = query.get(name)
    if value is None:
        return False
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0", ""):
        return False
    raise ApiError(400, INVALID_QUERY, f"{name}={value!r} is not true or false")


def _status(name: str) -> RuntimeStatus:
    try:
        return RuntimeStatus[name.strip().upper()]
    except KeyError:
        raise ApiError(400, INVALID_QUERY, (
            f"status={name.strip()!r} is not a status name; use "
            f"{', '.join(STATUS_NAMES)}")) from None


def _time(query: MultiMapping[str], name: str) -> int | None:
    value = query.get(name)
    return None if value is None else parse_time(value, name)


def _text(query: MultiMapping[str], name: str) -> str | None:
    value = query.get(name)
    return value if value else None
