"""`memcollab serve --transport http`: the SDK's Streamable HTTP transport at /mcp, behind bearer tokens.

One request, outermost first:
1. Starlette's AuthenticationMiddleware with the SDK's BearerAuthBackend over our token table
   (store/tokens.py); no token or an unknown one → HTTP 401 from the SDK's RequireAuthMiddleware, before any
   MCP handling. On a loopback address a store with no token at all is open (like stdio: only this
   machine can reach it); on any other address the server refuses to start without a token.
2. The SDK's transport: Host/Origin checks against DNS rebinding (TransportSecuritySettings), the request
   body limit, then JSON-RPC, answered as JSON. With sessions by default (the SDK's default); `--stateless`
   lets any server on the same store answer any request, for several servers behind a load balancer without
   sticky sessions (bench/bench_http.py measures both).
3. `ScopeGate`, a ServerMiddleware, the one place scopes are checked: it reads the method (and the tool name)
   and answers a call outside the token's scope with a tool error before the tool runs, so nothing changes.
   After a write succeeds it records the token's name as provenance (store/provenance.py).

SIGTERM: uvicorn stops accepting connections and lets in-flight requests finish (each acknowledged write is
committed before its response), then the process exits.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.provider import AccessToken
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from starlette.authentication import AuthCredentials
from starlette.middleware.authentication import AuthenticationMiddleware

from memcollab.store.tokens import SCOPES, TokenChecker, scopes_of

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from starlette.applications import Starlette
    from starlette.requests import HTTPConnection
    from starlette.types import Receive, Scope, Send

    from .memory import Memory

log = logging.getLogger("memcollab.http")

# A request body holds at most one trajectory (200,000 characters, up to 4 UTF-8 bytes each, plus JSON
# escaping of control characters): 4 MiB leaves room and refuses anything bigger before it is parsed.
MAX_BODY = 4 * 1024 * 1024
LOOPBACK_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
LOCAL_USER = "(local, no token)"

# What each tool needs; resources and prompts need `read`. A tool missing here needs `admin` (fail closed).
TOOL_SCOPE = {
    "get_constraints": "read", "memory_status": "read",
    "submit_trajectory": "write", "report_feedback": "write", "next_contrast": "write",
    "submit_constraints": "write",
    "forget": "admin",
}
METHOD_SCOPE = {"resources/read": "read", "resources/list": "read", "resources/templates/list": "read",
                "prompts/get": "read", "prompts/list": "read"}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def off_loop(checker: TokenChecker, fn: Any, *args: Any) -> Any:
    """Run a token lookup. On a local store whose tokens table is open it is a stat and a dict lookup: run it
    here (a worker-thread hop costs more); otherwise (opening the store, an object store's version check, a
    request) on a worker thread."""
    if checker.cheap():
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args)


class BankTokenVerifier:
    """The SDK's TokenVerifier protocol over the bank's token table."""

    def __init__(self, checker: TokenChecker):
        self.checker = checker

    async def verify_token(self, token: str) -> AccessToken | None:
        found = await off_loop(self.checker, self.checker.check, token)
        if found is None:
            return None
        name, scope = found
        # `token` is what the SDK keeps for the request; the clear token need not live on in memory
        return AccessToken(token="", client_id=name, scopes=scopes_of(scope))


class BankAuthBackend(BearerAuthBackend):
    """Bearer tokens from the bank; on loopback, a store with no tokens at all lets requests in unnamed."""

    def __init__(self, checker: TokenChecker, open_without_tokens: bool):
        super().__init__(BankTokenVerifier(checker))
        self.checker, self.open_without_tokens = checker, open_without_tokens

    async def authenticate(self, conn: HTTPConnection) -> Any:
        if (self.open_without_tokens and "authorization" not in conn.headers
                and not await off_loop(self.checker, self.checker.any)):
            user = AuthenticatedUser(AccessToken(token="", client_id=LOCAL_USER, scopes=list(SCOPES)))
            return AuthCredentials(list(SCOPES)), user
        return await super().authenticate(conn)


class RequireToken:
    """The SDK's RequireAuthMiddleware (401 with WWW-Authenticate) for HTTP requests; lifespan passes."""

    def __init__(self, app: Any):
        self.app, self.gate = app, RequireAuthMiddleware(app, required_scopes=[])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (self.gate if scope["type"] == "http" else self.app)(scope, receive, send)


def required_scope(method: str, params: Any) -> str | None:
    if method == "tools/call":
        name = params.get("name") if isinstance(params, dict) else None
        return TOOL_SCOPE.get(str(name), "admin")
    return METHOD_SCOPE.get(method)


class ScopeGate:
    """ServerMiddleware: refuse calls outside the token's scope; record who sent each write."""

    def __init__(self, memory: Memory):
        self.memory = memory

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        token = get_access_token()
        if token is None:  # not behind the HTTP auth layer (stdio, in-memory)
            return await call_next(ctx)
        need = required_scope(ctx.method, ctx.params)
        if need is not None and need not in token.scopes:
            what = f"tool {ctx.params.get('name')}" if ctx.method == "tools/call" else ctx.method
            held = token.scopes[-1] if token.scopes else "none"
            msg = (f"{what} needs a token with scope '{need}'; this token ({token.client_id}) has scope "
                   f"'{held}'. Nothing was changed. Ask the bank's admin for a token with scope '{need}' "
                   f"(memcollab token add NAME --scope {need}).")
            if ctx.method == "tools/call":
                return CallToolResult(content=[TextContent(type="text", text=msg)], is_error=True)
            from mcp.shared.exceptions import MCPError

            raise MCPError(code=-32600, message=msg)
        result = await call_next(ctx)
        if ctx.method == "tools/call" and token.client_id != LOCAL_USER:
            await self._provenance(ctx.params or {}, result, token.client_id)
        return result

    async def _provenance(self, params: dict[str, Any], result: Any, sent_by: str) -> None:
        if _field(result, "is_error", "isError"):
            return
        name, args = params.get("name"), params.get("arguments") or {}
        refs: list[str] = []
        kind = {"submit_trajectory": "trajectory", "report_feedback": "feedback", "forget": "forget"}.get(name)
        if kind == "trajectory":
            refs = [str((_field(result, "structured_content", "structuredContent") or {}).get("trajectory_id"))]
        elif kind == "feedback":
            refs = [str(r) for r in args.get("record_ids") or []]
        elif kind == "forget" and not args.get("dry_run"):
            refs = [f"{k}:{args[a]}" for k, a in (("record", "record_id"), ("model", "model"), ("agent", "agent"))
                    if args.get(a)]
        if not refs or refs == ["None"]:
            return
        from memcollab.store.provenance import record

        try:
            await record(self.memory.bank, kind, refs, sent_by)
        except Exception:  # the write itself is committed; losing its provenance must not fail it
            log.exception("could not record provenance of %s by %s", name, sent_by)


def _field(obj: Any, attr: str, key: str) -> Any:
    return obj.get(key, obj.get(attr)) if isinstance(obj, dict) else getattr(obj, attr, None)


def build_app(server: MCPServer, memory: Memory, host: str, allowed_hosts: list[str] | None = None,
              checker: TokenChecker | None = None, stateless: bool = False) -> Starlette:
    """The ASGI app: auth in front of the SDK's Streamable HTTP app at /mcp."""
    checker = checker or TokenChecker(memory.bank)
    loopback = is_loopback(host)
    if allowed_hosts:
        hosts = [*allowed_hosts, *LOOPBACK_HOSTS]
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                             allowed_origins=[f"{s}://{h}" for h in hosts for s in ("http", "https")])
    elif loopback:
        security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=LOOPBACK_HOSTS,
                                             allowed_origins=[f"http://{h}" for h in LOOPBACK_HOSTS])
    else:
        # Reached by names we cannot know: Host checks off, and a bearer token (which a rebinding page
        # does not have) is required on every request.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    server.middleware.append(ScopeGate(memory))
    app = server.streamable_http_app(streamable_http_path="/mcp", stateless_http=stateless, json_response=True,
                                     max_request_body_size=MAX_BODY, transport_security=security, host=host)
    # add_middleware puts each one outside the ones before: Authentication → AuthContext → RequireToken → /mcp
    app.add_middleware(RequireToken)
    app.add_middleware(AuthContextMiddleware)
    app.add_middleware(AuthenticationMiddleware, backend=BankAuthBackend(checker, open_without_tokens=loopback))
    return app


def serve(memory: Memory, host: str, port: int, allowed_hosts: list[str] | None = None,
          stateless: bool = False, graceful_seconds: float = 30.0) -> int:
    """Run until SIGTERM/SIGINT. Returns an exit status (2: refused to start)."""
    import sys

    import uvicorn

    from .app import create_server

    server_class = _uvicorn_server()

    checker = TokenChecker(memory.bank)
    if not is_loopback(host) and not checker.any():
        print(f"memcollab serve: refusing to listen on {host} (reachable from other machines) while the store "
              f"has no token. Make one first:\n  memcollab token add NAME --scope write --store "
              f"{memory.settings.store}\nthen send it as 'Authorization: Bearer TOKEN'.", file=sys.stderr)
        return 2
    if is_loopback(host) and not checker.any():
        log.warning("the store has no tokens: this loopback server is open to every local process "
                    "(make one with `memcollab token add`)")
    server = create_server(memory=memory)
    app = build_app(server, memory, host, allowed_hosts, checker, stateless)
    config = uvicorn.Config(app, host=host, port=port, log_level=memory.settings.log_level.lower(),
                            timeout_graceful_shutdown=graceful_seconds, access_log=False, server_header=False)
    server_class(config).run()
    memory.pairer.close()  # the lifespan closes it too; this covers a lifespan that never ran
    return 0


def _uvicorn_server() -> Any:
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGTERM after its graceful shutdown, so the process would die by the signal
        (and run interpreter teardown, which torch's threads can abort). The shutdown is done: exit 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            with super().capture_signals():
                yield
                getattr(self, "_captured_signals", []).clear()

    return Server
