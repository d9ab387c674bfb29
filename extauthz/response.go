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
	switch {
	case v.public:
		return answer{status: http.StatusOK, code: codes.OK, remove: slices.Clone(s.identity)}
	case v.class() == hankoauth.ClassOK:
		a := answer{status: http.StatusOK, code: codes.OK}
		a.header, a.remove = s.identityHeaders(v.session)
		if s.strip {
			set, remove := s.stripToken(r.headers, v.source)
			a.header = append(a.header, set...)
			a.remove = append(a.remove, remove...)
		}
		return a
	}
	return s.denial(v.reason, isGRPC(first(r.headers, "content-type")))
}

// errorKinds is the "error" of a JSON denial body, by class.
var errorKinds = map[hankoauth.Class]string{
	hankoauth.ClassNoToken:        "unauthenticated",
	hankoauth.ClassInvalid:        "unauthenticated",
	hankoauth.ClassForbidden:      "permission_denied",
	hankoauth.ClassUnavailable:    "unavailable",
	hankoauth.ClassCanceled:       "canceled",
	hankoauth.ClassBadRequest:     "bad_request",
	hankoauth.ClassReauthenticate: "reauthentication_required",
}

// denial renders a denial for reason: the HTTP status, gRPC code, message
// and WWW-Authenticate challenge of hankoauth's reason table, with a JSON
// body, or for a gRPC request grpc-status and grpc-message headers and no
// body (see the package documentation). An unavailable Hanko adds
// Retry-After.
func (s *Server) denial(reason hankoauth.Reason, grpc bool) answer {
	ri := reason.Info()
	a := answer{status: ri.HTTPStatus, code: ri.Code, msg: ri.Message}
	if ri.Challenge != "" {
		a.header = append(a.header, header{"www-authenticate", ri.Challenge})
	}
	if ri.Class == hankoauth.ClassUnavailable {
		a.header = append(a.header, header{"retry-after", s.retry})
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
	kind, ok := errorKinds[ri.Class]
	if !ok {
		kind = "unauthenticated"
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
	info, err := anypb.New(&errdetails.ErrorInfo{Domain: hankoauth.ErrorInfoDomain, Reason: string(reason)})
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
	if !v.public && !s.strip && v.session != nil && v.class() == hankoauth.ClassOK {
		// A cached session's request, the hot path: the parts that
		// depend on the session only are built once per session.
		p := s.ok.parts(s, v)
		m := new(struct {
			resp   authv3.CheckResponse
			status rpcstatus.Status
			http   authv3.CheckResponse_OkResponse
			ok     authv3.OkHttpResponse
		})
		m.ok.Headers, m.ok.HeadersToRemove = p.headers, p.remove
		m.http.OkResponse = &m.ok
		m.resp.Status, m.resp.HttpResponse, m.resp.DynamicMetadata = &m.status, &m.http, p.meta
		return &m.resp
	}
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
	ri := hankoauth.ReasonNoHTTPAttributes.Info()
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{Code: int32(ri.Code), Message: ri.Message},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"reason": structpb.NewStringValue(string(ri.Reason)),
		}},
	}
}
