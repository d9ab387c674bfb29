package interceptor

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/hankoauth/hankoauth"
)

// NewPerRPCCredentials returns credentials that send token as
// "authorization: Bearer <token>" on every call. They require transport
// security (TLS), like grpc-go's credentials/oauth: a session token must
// not cross the network in plaintext.
func NewPerRPCCredentials(token string) credentials.PerRPCCredentials {
	return bearerCreds{token: token, secure: true}
}

// NewInsecurePerRPCCredentials is NewPerRPCCredentials for a plaintext
// connection, such as the hop from a workload to its mesh sidecar that
// then speaks mTLS. Anyone who can read that connection can use the token.
func NewInsecurePerRPCCredentials(token string) credentials.PerRPCCredentials {
	return bearerCreds{token: token, secure: false}
}

type bearerCreds struct {
	token  string
	secure bool
}

func (c bearerCreds) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if c.secure {
		ri, _ := credentials.RequestInfoFromContext(ctx)
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, fmt.Errorf("interceptor: session token not sent: %w", err)
		}
	}
	return map[string]string{"authorization": "Bearer " + c.token}, nil
}

func (c bearerCreds) RequireTransportSecurity() bool { return c.secure }

// ClientOption configures a Forwarder. The client side has options of
// its own: none of the server's (public methods, requirements, ...) mean
// anything there.
type ClientOption func(*clientOptions)

type clientOptions struct {
	cookieName  string
	tokenHeader string
	errs        []error
}

// WithForwardCookieName sets the name of Hanko's session cookie that the
// Forwarder reads from the incoming metadata when the server interceptors
// did not hand it the token (see Forwarder). Default "hanko"; give the
// same name as to the server's WithCookieName.
func WithForwardCookieName(name string) ClientOption {
	return func(o *clientOptions) { o.cookieName = name }
}

// WithForwardTokenHeader names a metadata key with a bare token that the
// Forwarder reads from the incoming metadata, as the server's
// WithTokenHeader. Naming "authorization" or a cookie header makes
// NewForwarder fail.
func WithForwardTokenHeader(name string) ClientOption {
	return func(o *clientOptions) {
		h, err := tokenHeader(name)
		if err != nil {
			o.errs = append(o.errs, err)
			return
		}
		o.tokenHeader = h
	}
}

// Forwarder forwards the session token of the server call in progress to
// outgoing calls made with its context, as "authorization: Bearer
// <token>", so that the next service sees the same user. The token is the
// one the server interceptors of this package validated (they keep it in
// the context, TokenFromContext); without them, it is extracted from the
// incoming metadata as they would (WithForwardCookieName,
// WithForwardTokenHeader), and skipped when missing, ambiguous or not
// made of visible ASCII characters.
//
// Nothing is added when the outgoing context already has an authorization
// value or the call has grpc.PerRPCCredentials among its call options.
// Do not combine it with per-RPC credentials set on the connection
// (grpc.WithPerRPCCredentials): the call would carry two authorization
// values, which the next service rejects as ambiguous. The token travels
// as it came: forward only to services that trust the same Hanko, over
// TLS or a mesh's mTLS.
type Forwarder struct{ x hankoauth.Extractor }

// NewForwarder returns a Forwarder configured by opts; it fails when an
// option is invalid.
func NewForwarder(opts ...ClientOption) (*Forwarder, error) {
	var o clientOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if err := errors.Join(o.errs...); err != nil {
		return nil, err
	}
	return &Forwarder{x: newExtractor(o.cookieName, o.tokenHeader)}, nil
}

// Unary returns the unary client interceptor that forwards the token.
func (f *Forwarder) Unary() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
		return invoker(f.forward(ctx, callOpts), method, req, reply, cc, callOpts...)
	}
}

// Stream returns the stream client interceptor that forwards the token.
func (f *Forwarder) Stream() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(f.forward(ctx, callOpts), desc, cc, method, callOpts...)
	}
}

// forward returns ctx with the session token added to its outgoing
// metadata, or ctx as it is.
func (f *Forwarder) forward(ctx context.Context, callOpts []grpc.CallOption) context.Context {
	for _, o := range callOpts {
		if _, ok := o.(grpc.PerRPCCredsCallOption); ok {
			return ctx
		}
	}
	if out, ok := metadata.FromOutgoingContext(ctx); ok && len(out.Get("authorization")) > 0 {
		return ctx
	}
	token, ok := TokenFromContext(ctx)
	if !ok {
		in, ok := metadata.FromIncomingContext(ctx)
		if !ok {
			return ctx
		}
		t, err := f.x.Extract(in.Get)
		if err != nil || !forwardable(t) {
			return ctx
		}
		token = t
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// forwardable reports whether an unvalidated token can be sent as a
// bearer token: visible ASCII without spaces, as every JWT is. Anything
// else would only fail the outgoing call.
func forwardable(t string) bool {
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return t != ""
}
