"""Turning failures into tool errors the calling model can act on: never a traceback on the wire."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ValidationError

from memcollab.store.bank import StoreUnavailable

log = logging.getLogger("memcollab.server")
M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])


def describe(err: ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "__root__")
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def validated(cls: type[M], /, **fields: Any) -> M:
    """Build a boundary model from tool arguments or raise a ToolError that says what to fix."""
    try:
        return cls(**fields)
    except ValidationError as err:
        raise ToolError(f"invalid arguments, nothing was stored: {describe(err)}") from None


def tool_error(name: str, err: Exception) -> ToolError:
    """The tool error the caller gets for `err` raised inside tool `name`."""
    if isinstance(err, ToolError):
        return err
    if isinstance(err, StoreUnavailable):  # a configuration problem: say what to fix, not "retry"
        return ToolError(str(err))
    if isinstance(err, ValidationError):
        return ToolError(f"invalid arguments: {describe(err)}")
    if isinstance(err, ValueError | TypeError | LookupError):
        return ToolError(str(err))
    log.error("tool %s failed", name, exc_info=err)
    return ToolError(f"{name} failed inside memcollab ({type(err).__name__}); "
                     "the call can be retried; see the server's stderr log")


def tool_errors(fn: F) -> F:
    """Wrap a tool (plain or async): known errors become clear tool errors; anything else is logged to stderr
    and reported without internals."""
    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return await fn(*args, **kwargs)
            except Exception as err:
                raise tool_error(fn.__name__, err) from None

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            raise tool_error(fn.__name__, err) from None

    return wrapper  # type: ignore[return-value]
