// Package extauthz is an Envoy external authorization server
// (envoy.service.auth.v3.Authorization) that admits requests carrying a
// live Hanko session, for Envoy and Istio meshes; HTTPHandler serves the
// same decisions to Envoy's http_service and to auth_request-style proxies.
//
// A denial is a normal CheckResponse with the HTTP answer the client gets.
// Check returns a gRPC error only in the ReturnError failure mode, so that
// otherwise Envoy's failure_mode_allow never turns a denial into an
// admission.
//
// # Usage
//
// Configure the server once; an invalid option (a public path, an HTTP
// method or a header name) is an error of NewServer, never a panic:
//
//	authz, err := extauthz.NewServer(v,
//		extauthz.WithPublicPaths("/public/", "/healthz"),
//		extauthz.WithPublicHTTPMethods("OPTIONS"),
//		extauthz.WithRequirement(hankoauth.RequireVerifiedEmail()),
//		extauthz.WithLogger(logger))
//	...
//	authz.Register(grpcServer)                 // Envoy's gRPC ext_authz
//	mux.Handle("/authz/", authz.HTTPHandler("/authz")) // http_service, auth_request
//
// The options mean what they mean in package interceptor: WithRequirement
// composes (every requirement given must hold), WithLogger is the only
// way to get log lines (nothing is logged without it), WithCookieName and
// WithDecisionHook are the same. WithPublicHTTPMethods names HTTP verbs,
// not gRPC methods.
//
// # Envoy
//
// Point the HTTP ext_authz filter at the gRPC server (Register). Let Envoy normalise paths before
// ext_authz sees them, and remove client-sent identity headers on routes
// where ext_authz is disabled (deploy/envoy/envoy.yaml has the full
// bootstrap):
//
//	http_connection_manager:
//	  normalize_path: true
//	  merge_slashes: true
//	  path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT
//	  http_filters:
//	  - name: envoy.filters.http.ext_authz
//	    typed_config:
//	      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
//	      transport_api_version: V3
//	      grpc_service:
//	        envoy_grpc: { cluster_name: hanko_authz }
//	        timeout: 0.5s
//	      failure_mode_allow: false
//	      status_on_error: { code: ServiceUnavailable }
//	      encode_raw_headers: true   # optional: Check reads header_map too
//	  - name: envoy.filters.http.router
//
// Check reads the request headers from attributes.request.http.headers and
// from header_map (which Envoy fills instead, with raw_value bytes and
// repeated headers kept, under encode_raw_headers), the path from
// http.path (else ":path") and the method from http.method (else
// ":method"). The token is found by hankoauth.Extractor: "authorization:
// Bearer", then the session cookie (WithCookieName, default "hanko");
// different tokens in one request are rejected as ambiguous.
//
// # Istio
//
// Register the server as a CUSTOM extension provider in the mesh config and
// select the workloads with an AuthorizationPolicy (deploy/istio has both):
//
//	extensionProviders:
//	- name: hanko-authz
//	  envoyExtAuthzGrpc:
//	    service: hanko-authz.hanko-authz.svc.cluster.local
//	    port: 9001
//	    timeout: 0.5s
//	    failOpen: false
//	    statusOnError: "503"
//
//	apiVersion: security.istio.io/v1
//	kind: AuthorizationPolicy
//	spec:
//	  selector: { matchLabels: { app: demo } }
//	  action: CUSTOM
//	  provider: { name: hanko-authz }
//	  rules: [{ to: [{ operation: { notPaths: ["/healthz"] } }] }]
//
// Keep public prefixes in WithPublicPaths (hanko-authz --public-paths),
// not in notPaths: Istio matches notPaths: ["/public/*"] after a path
// normalisation that leaves "/public/..;/x" and "/public/..%2Fx" alone, so
// they would skip the check; WithPublicPaths refuses them.
//
// Istio may also send Checks from its network (TCP) ext_authz filter. Such
// a CheckRequest has no HTTP attributes and is denied with
// INVALID_ARGUMENT (reason HTTP_ATTRIBUTES_MISSING, logged as a warning):
// a session cannot be checked without headers, and an error instead of a
// denial would let failOpen decide.
//
// # Status table
//
// Every status, message and challenge below comes from hankoauth's reason
// table (hankoauth.Reason.Info), which the interceptors and the metrics
// share.
//
//	case                          CheckResponse status        HTTP  WWW-Authenticate                                  reason (body, metadata)
//	public path or method         OK                          -     -                                                 OK
//	live session                  OK                          -     -                                                 OK
//	no token                      UNAUTHENTICATED             401   Bearer realm="hanko"                              TOKEN_MISSING
//	invalid token                 UNAUTHENTICATED             401   Bearer realm="hanko", error="invalid_token"       SESSION_EXPIRED, SESSION_REVOKED, TOKEN_AMBIGUOUS, TOKEN_MALFORMED, ...
//	requirement not met           PERMISSION_DENIED           403   Bearer realm="hanko", error="insufficient_scope"  PERMISSION_DENIED
//	login too old (hanko.max_age) UNAUTHENTICATED             401   Bearer realm="hanko", error="insufficient_user_authentication", ...  REAUTHENTICATION_REQUIRED
//	Hanko unavailable             UNAVAILABLE                 503   - (Retry-After: 1, WithRetryAfter)                HANKO_UNAVAILABLE
//	Hanko unavailable, ReturnError  gRPC error Unavailable: Envoy's failure_mode_allow / status_on_error decide
//	no HTTP attributes            INVALID_ARGUMENT            -     -                                                 HTTP_ATTRIBUTES_MISSING
//	the caller gave up            CANCELLED                   499   -                                                 REQUEST_CANCELED
//	over 1024 headers or 256 KiB  INVALID_ARGUMENT            431   -                                                 HEADERS_TOO_LARGE
//
// A denial's body is JSON, "content-type: application/json":
//
//	{"error":"unauthenticated","reason":"SESSION_EXPIRED"}
//
// with error "unauthenticated", "permission_denied",
// "reauthentication_required", "unavailable", "canceled" or "bad_request".
// The status message and every text a client sees is fixed ("missing session
// token", "session expired", "invalid session", "permission denied",
// "authentication temporarily unavailable"); the error behind a denial
// goes to the log (WithLogger) with the method, the path without its query
// and the reason, never the token.
//
// # gRPC requests
//
// When the request's content type is application/grpc (or
// application/grpc+proto, ...; not gRPC-Web), a denial keeps its HTTP
// status but has no body and sets "content-type: application/grpc",
// "grpc-status" (16 Unauthenticated, 7 PermissionDenied, 14 Unavailable),
// "grpc-message" and "grpc-status-details-bin" (a google.rpc.Status with a
// google.rpc.ErrorInfo of domain "hanko" and the reason, as the
// interceptor package sends). Envoy answers a denied gRPC request with a
// trailers-only HTTP 200 response and derives grpc-status from the HTTP
// status (401 → 16, 403 → 7, 503 → 14), then applies these headers over
// its own; a proxy that forwards the 401/403/503 as it is still gives gRPC
// clients the right code, since they map those HTTP statuses the same way.
// Either way clients see Unauthenticated, not Unknown, and no JSON where
// they expect gRPC.
//
// # Headers
//
// An allowed request goes upstream with, each replacing any value the
// client sent (OVERWRITE_IF_EXISTS_OR_ADD):
//
//	x-hanko-user-id      the user id (sub)
//	x-hanko-session-id   the session id
//	x-hanko-email        the primary email address, when the token has one
//	<WithClaimHeader>    custom claims: strings as they are, numbers and booleans as JSON
//
// WithIdentityHeaders renames the first three. Every configured identity
// header that the session does not provide (no email, a claim that is
// absent, null, an object or array, or a string with control characters)
// is listed in headers_to_remove, so a client cannot smuggle one in; a
// public request has all of them removed. WithStripToken(true) also
// removes the token: "authorization" when it carried the token, and the
// session cookie, by rewriting "cookie" without it (or removing "cookie"
// when it was the only cookie).
//
// # Dynamic metadata
//
// Every CheckResponse carries dynamic_metadata, which Envoy's HTTP filter
// stores under the namespace "envoy.filters.http.ext_authz"
// (MetadataNamespace; "envoy.filters.network.ext_authz" for the network
// filter):
//
//	reason           "OK" or the denial's reason, always
//	public           true for a public path or method
//	user_id          string  \
//	session_id       string   |
//	email            string   |  allowed requests with a session
//	email_verified   bool     |  (email, email_verified, username and
//	username         string   |  idle_expires_at only when known)
//	amr              list of strings
//	expires_at       RFC 3339, UTC
//	idle_expires_at  RFC 3339, UTC  /
//
// Use it in access logs, "%DYNAMIC_METADATA(envoy.filters.http.ext_authz:user_id)%",
// or in an RBAC filter placed after ext_authz:
//
//	http_filters:
//	  - name: envoy.filters.http.rbac
//	    typed_config:
//	      "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
//	      rules:
//	        action: DENY # /admin/ without a passkey login
//	        policies:
//	          admin-without-passkey:
//	            permissions: [{ url_path: { path: { prefix: /admin/ } } }]
//	            principals:
//	            - not_id:
//	                metadata:
//	                  filter: envoy.filters.http.ext_authz
//	                  path: [{ key: amr }]
//	                  value: { list_match: { one_of: { string_match: { exact: passkey } } } }
//
// # Failure modes
//
// When Hanko or its JWKS cannot be reached, the session cannot be checked.
// FailClosed (the default) denies with UNAVAILABLE / 503 and Retry-After,
// whatever Envoy's failure_mode_allow says. WithFailureMode(ReturnError)
// returns a gRPC Unavailable error instead, so that Envoy's
// failure_mode_allow and status_on_error (Istio: failOpen, statusOnError)
// decide; with failure_mode_allow: true requests then pass without a
// session while Hanko is down. A Check whose own context ends first
// (Envoy's timeout) is not Hanko's failure: it is answered CANCELLED with
// the reason REQUEST_CANCELED, and counted so (result "canceled").
//
// # Public routes
//
// WithPublicPaths lets paths through without a session: "/healthz" is
// exact, "/public/" matches itself and everything below it, "/static*"
// everything that starts with "/static". WithPublicHTTPMethods("OPTIONS")
// lets CORS preflights through on every path. Public requests are
// reported to the decision hook with the result "public", not "allow". A public request still has every
// identity header removed and carries no session, even when it has a token.
//
// Paths are matched case-sensitively, without query and fragment, after
// percent-decoding. A path is never public when it is not absolute, has an
// empty segment ("//", also leading), an invalid escape, an encoded slash
// ("%2F"), a backslash, a NUL, a "%" left after decoding (double
// encoding), bytes that are not UTF-8 once decoded (overlong forms such
// as "%C0%AE" for "."), or a "." or ".." segment (also as "..;x"), however
// encoded: "/public/../admin", "/public/%2e%2e/admin", "//public/x" and
// "/PUBLIC/x" all need a session. Such paths are refused rather than
// normalised, since upstreams disagree on what they mean. Envoy's
// normalize_path and merge_slashes already resolve dot segments and "//";
// these rules are for requests that try to escape a public prefix anyway,
// and for proxies that do not normalise.
//
// # Per-route requirements
//
// One server can guard routes with different needs: a route sets
// context_extensions in its ExtAuthzPerRoute.check_settings, Envoy sends
// them in every CheckRequest of the route, and Check applies them on top of
// WithRequirement:
//
//	typed_per_filter_config:
//	  envoy.filters.http.ext_authz:
//	    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
//	    check_settings:
//	      context_extensions:
//	        hanko.require: verified_email   # ExtRequire
//	        hanko.amr: passkey              # ExtAMR: any of a comma-separated list
//	        hanko.max_age: 5m               # ExtMaxAge: hankoauth.RequireFreshLogin
//
// A login older than hanko.max_age is denied with REAUTHENTICATION_REQUIRED
// (401), so that clients send the user to log in again; the others with
// PERMISSION_DENIED. Keys outside "hanko." are ignored. An unknown key
// under "hanko." (a typo) or a bad value denies every request of the route
// with PERMISSION_DENIED and a log line naming the key: a mistake never
// opens a route. The HTTP mode has no context extensions.
//
// # HTTP mode
//
// ProxyHandler(proxy, prefix) answers plain HTTP authorization requests
// with the same decide function as Check, so both edges agree: 200 with
// the identity headers, or the 401/403/503 of the table with the same
// headers and body. On 200, "x-envoy-auth-headers-to-remove" lists the
// headers to remove (Envoy's http_service form of headers_to_remove).
// HTTPHandler(prefix) is ProxyHandler(ProxyEnvoy, prefix).
//
// The original request's path and method come from exactly one source,
// chosen by the Proxy the handler is built for, never by which headers a
// request happens to carry. A header named as the source must be present
// once; absent or repeated, the path (or method) is unknown and never
// public. Every other path or method header is ignored.
//
//	proxy             path from                     method from          the proxy must
//	ProxyEnvoy        request path after prefix     request method       (nothing: Envoy builds both)
//	ProxyNginx        X-Original-URI                X-Original-Method    set both with proxy_set_header
//	ProxyForwardAuth  X-Forwarded-Uri               X-Forwarded-Method   set both (Traefik and Caddy do)
//
// With every proxy, the upstream must not get client-sent identity headers
// (X-Hanko-*): the proxy overwrites or removes them with the values of the
// answer, which has them only for an allowed request.
//
// Envoy's http_service appends the original path to path_prefix: mount
// the handler at prefix and set path_prefix to it. List the headers Envoy
// must send (allowed_headers: cookie; Envoy always sends authorization)
// and pass back (authorization_response.allowed_upstream_headers: the
// identity headers, and cookie with WithStripToken); Envoy then overwrites
// the identity headers on allowed requests, and a filter before ext_authz
// must strip them from the others (see deploy/envoy). Do not let Envoy
// forward content-type: Envoy 1.40 answers its own failure to reach the
// handler with a gRPC-style HTTP 200 when the check request says
// "application/grpc", and takes that for an allowed request. Under
// ProxyEnvoy the handler reads the original path only from the request
// line, never from X-Forwarded-Uri or X-Original-URI. Envoy 1.40 treats
// the handler's 503 as an error of its own and answers status_on_error (a
// bare 503); FailureMode does not apply. deploy/envoy/envoy-http.yaml is a
// complete bootstrap.
//
// nginx auth_request calls the handler with a subrequest; set the path and
// method in the auth location, and set every identity header in the
// protected location from the answer (nginx sends no header whose value is
// empty, so a client's X-Hanko-User-Id never reaches the app):
//
//	location = /_hanko {
//	    internal;
//	    proxy_pass http://hanko-authz:9002/authz;
//	    proxy_pass_request_body off;
//	    proxy_set_header Content-Length "";
//	    proxy_set_header X-Original-URI $request_uri;
//	    proxy_set_header X-Original-Method $request_method;
//	}
//	location / {
//	    auth_request /_hanko;
//	    auth_request_set $hanko_user $upstream_http_x_hanko_user_id;
//	    auth_request_set $hanko_session $upstream_http_x_hanko_session_id;
//	    auth_request_set $hanko_email $upstream_http_x_hanko_email;
//	    proxy_set_header X-Hanko-User-Id $hanko_user;
//	    proxy_set_header X-Hanko-Session-Id $hanko_session;
//	    proxy_set_header X-Hanko-Email $hanko_email;
//	    proxy_pass http://app;
//	}
//
// nginx turns any answer but 2xx, 401 and 403 into a 500, and sends its own
// error page. Traefik's forwardAuth (with trustForwardHeader off, its
// default) and Caddy's forward_auth set X-Forwarded-Uri and
// X-Forwarded-Method themselves. Traefik forwards the answer; list the
// identity headers in authResponseHeaders (X-Hanko-User-Id,
// X-Hanko-Session-Id, X-Hanko-Email), which makes it remove them from the
// request when the answer lacks them. Caddy: copy_headers X-Hanko-User-Id
// X-Hanko-Session-Id X-Hanko-Email, and a request_header -X-Hanko-User-Id
// (and the same for the others) before forward_auth.
package extauthz
