"""Domain errors with their stable ids; the HTTP layer turns them into the error body of §1."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refusal with a stable error id. Raised by decisions and handlers alike."""

    def __init__(
        self,
        status: int,
        error_id: str,
        message: str,
        *,
        data: Any = None,
        sub_errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.data = data
        self.sub_errors = sub_errors
        self.headers = headers

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"id": self.error_id, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        if self.sub_errors:
            error["subErrors"] = self.sub_errors
        return {"error": error}


def invalid_parameters(sub_errors: list[dict[str, Any]]) -> ApiError:
    params = [e["data"]["param"] for e in sub_errors]
    return ApiError(
        400,
        "INVALID_PARAMETERS_FORMAT",
        "Invalid parameters: " + ", ".join(params),
        data={"params": params},
        sub_errors=sub_errors,
    )


def invalid_parameter(param: str, message: str) -> ApiError:
    return invalid_parameters([sub_error(param, message)])


def sub_error(param: str, message: str) -> dict[str, Any]:
    return {"id": "INVALID_PARAMETERS_FORMAT", "message": message, "data": {"param": param}}


def invalid_structure(message: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST_STRUCTURE", message)


def unknown(error_id: str, what: str, ident: str | None = None) -> ApiError:
    """404 UNKNOWN_* (the id is not echoed when it could be a secret)."""
    message = f"Unknown {what}" + (f" {ident!r}" if ident is not None else "")
    return ApiError(404, error_id, message)


def forbidden(message: str = "The credential lacks the permission for this") -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def invalid_operation(message: str, data: Any = None, status: int = 400) -> ApiError:
    return ApiError(status, "INVALID_OPERATION", message, data=data)


def name_exists(message: str) -> ApiError:
    return ApiError(400, "ITEM_NAME_ALREADY_EXISTS", message)


def id_exists(message: str) -> ApiError:
    return ApiError(400, "ITEM_ID_ALREADY_EXISTS", message)


# --- clashes with items a shared token may not read ---------------------------------------------
# Ids and names are unique in their channel or among siblings, so a clash is refused whoever
# holds the id; but the holder may lie outside the credential's grants. These answers name only
# what the request itself gave, and never the holder (its kind, folder, id or name), the same
# for every credential: they tell no more than the refusal does (docs/api.md §3.5).


def id_unavailable(item_id: str) -> ApiError:
    """A folder id the request chose that another folder of the channel holds."""
    return id_exists(f"The id {item_id!r} is not available in this channel")


def name_unavailable(name: str) -> ApiError:
    """A folder name that a sibling holds."""
    return name_exists(f"The name {name!r} is not available here")


def client_ids_unavailable(client_ids: list[str]) -> ApiError:
    """Client ids of the request that events of the channel hold (or given twice in it)."""
    return ApiError(
        400,
        "ITEM_ID_ALREADY_EXISTS",
        "Client ids not available in this channel: " + ", ".join(map(repr, client_ids[:10])),
        data={"clientIds": client_ids},
    )
