"""Turning failures into tool errors the calling model can act on: never a traceback on the wire."""

from __future__ import annotations

import functools
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


def tool_errors(fn: F) -> F:
    """Wrap a tool: known errors become clear tool errors; anything else is logged to stderr and
    reported without internals."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ToolError:
            raise
        except StoreUnavailable as err:  # a configuration problem: say what to fix, not "retry"
            raise ToolError(str(err)) from None
        except ValidationError as err:
            raise ToolError(f"invalid arguments: {describe(err)}") from None
        except (ValueError, TypeError, LookupError) as err:
            raise ToolError(str(err)) from None
        except Exception as err:
            log.exception("tool %s failed", fn.__name__)
            raise ToolError(f"{fn.__name__} failed inside memcollab ({type(err).__name__}); "
                            "the call can be retried; see the server's stderr log") from None

    return wrapper  # type: ignore[return-value]
