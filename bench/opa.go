package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/open-policy-agent/opa/v1/rego"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
)

// opaPolicy is what an OPA deployment checking Hanko tokens at Envoy
// runs: the token from the bearer header or the hanko cookie, verified
// with io.jwt.decode_verify against Hanko's JWKS (RS256; exp and nbf
// checked by decode_verify).
const opaPolicy = `package envoy.authz

import rego.v1

default allow := false

token := t if {
	v := input.attributes.request.http.headers.authorization
	startswith(v, "Bearer ")
	t := substring(v, 7, -1)
} else := t if {
	some part in split(input.attributes.request.http.headers.cookie, ";")
	kv := split(trim_space(part), "=")
	kv[0] == "hanko"
	t := kv[1]
}

allow if {
	[valid, _, payload] := io.jwt.decode_verify(token, {"cert": data.jwks})
	valid
	payload.session_id
}
`

// opaServer answers ext_authz Check with the OPA policy, turning the
// CheckRequest into the policy's input as the OPA Envoy plugin does
// (protojson, then a generic JSON value).
type opaServer struct {
	authv3.UnimplementedAuthorizationServer
	q rego.PreparedEvalQuery
}

func (s *opaServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	b, err := protojson.Marshal(req)
	if err != nil {
		return nil, err
	}
	var input map[string]any
	if err := json.Unmarshal(b, &input); err != nil {
		return nil, err
	}
	rs, err := s.q.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	if rs.Allowed() {
		return &authv3.CheckResponse{
			Status:       &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}},
		}, nil
	}
	return &authv3.CheckResponse{
		Status: &status.Status{Code: int32(codes.Unauthenticated)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
		}},
	}, nil
}

// cmdOPA serves ext_authz with OPA's Go module evaluating opaPolicy. The
// harness uses it when the OPA Envoy plugin itself cannot be built.
func cmdOPA(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("opa", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "gRPC address")
	jwksFile := fs.String("jwks", "", "file with Hanko's JWKS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	jwks, err := os.ReadFile(*jwksFile)
	if err != nil {
		return err
	}
	q, err := rego.New(
		rego.Query("data.envoy.authz.allow"),
		rego.Module("policy.rego", opaPolicy),
		rego.Data(map[string]any{"jwks": string(jwks)}),
	).PrepareForEval(ctx)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	g := grpc.NewServer()
	authv3.RegisterAuthorizationServer(g, &opaServer{q: q})
	return serveGRPC(ctx, g, *addr)
}
