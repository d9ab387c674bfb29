package extauthz

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hankoauth/hankoauth"
)

// ErrorInfoDomain is the domain of the google.rpc.ErrorInfo detail in the
// grpc-status-details-bin header of a denial of a gRPC request, as the
// interceptor package sends it; its reason is a hankoauth.Reason.
const ErrorInfoDomain = "hanko"

// answer is a verdict rendered for either edge. For an allowed request,
// headers and remove apply to the upstream request; for a denied one,
// headers and body are the response to the client.
type answer struct {
	status int        // HTTP status
	code   codes.Code // the CheckResponse's status code
	msg    string     // the CheckResponse's status message, and grpc-message
	header []header
	remove []string
	body   string
}

// answer renders v for the request r.
func (s *Server) answer(v verdict, r request) answer {
	switch v.outcome {
	case public:
		return answer{status: http.StatusOK, code: codes.OK, remove: slices.Clone(s.identity)}
	case allowed:
		a := answer{status: http.StatusOK, code: codes.OK}
		a.header, a.remove = s.identityHeaders(v.session)
		if s.strip {
			set, remove := s.stripToken(r.headers, v.token)
			a.header = append(a.header, set...)
			a.remove = append(a.remove, remove...)
		}
		return a
	}
	return s.denial(v.outcome, v.reason, isGRPC(first(r.headers, "content-type")))
}

// The fixed messages clients see are hankoauth.Reason's Message, the same
// as the interceptor package's. The detail of a denial goes to the log only.
var (
	msgMissing     = hankoauth.ReasonTokenMissing.Message()
	msgInvalid     = hankoauth.ReasonRevoked.Message()
	msgExpired     = hankoauth.ReasonExpired.Message()
	msgForbidden   = hankoauth.ReasonForbidden.Message()
	msgUnavailable = hankoauth.ReasonUnavailable.Message()
)

// denial renders a denial: 401, 403 or 503 with a JSON body, or for a gRPC
// request the same status with grpc-status and grpc-message headers and no
// body (see the package documentation).
func (s *Server) denial(o outcome, reason hankoauth.Reason, grpc bool) answer {
	var a answer
	var kind string
	switch o {
	case forbidden:
		a = answer{status: http.StatusForbidden, code: codes.PermissionDenied, msg: msgForbidden}
		kind = "permission_denied"
		a.header = append(a.header, header{"www-authenticate", `Bearer realm="hanko", error="insufficient_scope"`})
	case unavailable:
		a = answer{status: http.StatusServiceUnavailable, code: codes.Unavailable, msg: msgUnavailable}
		kind = "unavailable"
		a.header = append(a.header, header{"retry-after", s.retry})
	default:
		a = answer{status: http.StatusUnauthorized, code: codes.Unauthenticated, msg: msgInvalid}
		kind = "unauthenticated"
		challenge := `Bearer realm="hanko", error="invalid_token"`
		switch reason {
		case hankoauth.ReasonTokenMissing:
			a.msg = msgMissing
			challenge = `Bearer realm="hanko"`
		case hankoauth.ReasonExpired:
			a.msg = msgExpired
		}
		a.header = append(a.header, header{"www-authenticate", challenge})
	}
	if grpc {
		a.header = append(a.header,
			header{"content-type", "application/grpc"},
			header{"grpc-status", strconv.Itoa(int(a.code))},
			header{"grpc-message", a.msg},
			header{"grpc-status-details-bin", statusDetails(a.code, a.msg, reason)},
		)
		return a
	}
	body, _ := json.Marshal(struct {
		Error  string           `json:"error"`
		Reason hankoauth.Reason `json:"reason"`
	}{kind, reason})
	a.header = append(a.header, header{"content-type", "application/json"})
	a.body = string(body)
	return a
}

// statusDetails is the grpc-status-details-bin of a denial: a
// google.rpc.Status with an ErrorInfo detail, base64 without padding as
// gRPC sends binary headers.
func statusDetails(c codes.Code, msg string, reason hankoauth.Reason) string {
	info, err := anypb.New(&errdetails.ErrorInfo{Domain: ErrorInfoDomain, Reason: string(reason)})
	if err != nil {
		return ""
	}
	b, err := proto.Marshal(&rpcstatus.Status{Code: int32(c), Message: msg, Details: []*anypb.Any{info}})
	if err != nil {
		return ""
	}
	return base64.RawStdEncoding.EncodeToString(b)
}

// checkResponse renders v as a CheckResponse.
func (s *Server) checkResponse(v verdict, r request) *authv3.CheckResponse {
	a := s.answer(v, r)
	if a.code == codes.OK {
		// An allowed request is the hot path: its messages are allocated
		// together.
		m := new(struct {
			resp   authv3.CheckResponse
			status rpcstatus.Status
			http   authv3.CheckResponse_OkResponse
			ok     authv3.OkHttpResponse
		})
		m.ok.Headers, m.ok.HeadersToRemove = headerOptions(a.header), a.remove
		m.http.OkResponse = &m.ok
		m.resp.Status, m.resp.HttpResponse, m.resp.DynamicMetadata = &m.status, &m.http, metadata(v)
		return &m.resp
	}
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(a.code), Message: a.msg},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode(a.status)},
			Headers: headerOptions(a.header),
			Body:    a.body,
		}},
		DynamicMetadata: metadata(v),
	}
}

// headerOptions turns headers into Envoy header options that replace any
// header of the same name. The messages are allocated together.
func headerOptions(hs []header) []*corev3.HeaderValueOption {
	if len(hs) == 0 {
		return nil
	}
	type option struct {
		opt corev3.HeaderValueOption
		val corev3.HeaderValue
	}
	opts := make([]option, len(hs))
	out := make([]*corev3.HeaderValueOption, len(hs))
	for i, h := range hs {
		o := &opts[i]
		o.val.Key, o.val.Value = h.name, h.value
		o.opt.Header = &o.val
		o.opt.AppendAction = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
		out[i] = &o.opt
	}
	return out
}

// notHTTPResponse is the answer to a CheckRequest without HTTP attributes.
func notHTTPResponse() *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{
			Code:    int32(codes.InvalidArgument),
			Message: "check request has no HTTP attributes",
		},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"reason": structpb.NewStringValue(string(ReasonNoHTTPAttributes)),
		}},
	}
}
