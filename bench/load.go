package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// loadResult is what one load run measured.
type loadResult struct {
	n      int           // completed requests (allowed or denied)
	errs   int           // transport errors and timeouts
	dur    time.Duration // wall time of the run
	p50    time.Duration
	p99    time.Duration
	denied int // answered with a denial
}

func (r loadResult) rps() float64 { return float64(r.n) / r.dur.Seconds() }

// percentiles fills p50 and p99 from the latencies.
func (r *loadResult) percentiles(lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	r.p50 = lat[len(lat)*50/100]
	r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
}

// driveCheck sends the stream's CheckRequests to addr over one HTTP/2
// connection (as an Envoy worker does) from c concurrent callers for d.
func driveCheck(ctx context.Context, conn *grpc.ClientConn, reqs []*request, c int, d time.Duration) loadResult {
	client := authv3.NewAuthorizationClient(conn)
	return drive(ctx, c, d, 0, func(ctx context.Context, i int) (bool, error) {
		resp, err := client.Check(ctx, reqs[i%len(reqs)].check)
		if err != nil {
			return false, err
		}
		return resp.GetStatus().GetCode() != 0, nil
	})
}

// dialCheck opens the connection driveCheck uses.
func dialCheck(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// newHTTPClient is a keep-alive client with c connections.
func newHTTPClient(c int) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConns: c, MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

// driveHTTP sends the stream's requests to base+prefix+path from c
// concurrent callers for d. 401 and 403 are denials, other non-2xx
// statuses errors.
func driveHTTP(ctx context.Context, client *http.Client, base string, reqs []*request, c int, d time.Duration, limit int) loadResult {
	return drive(ctx, c, d, limit, func(ctx context.Context, i int) (bool, error) {
		r := reqs[i%len(reqs)]
		req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, nil)
		if err != nil {
			return false, err
		}
		for _, kv := range r.headers {
			req.Header[http.CanonicalHeaderKey(kv[0])] = []string{kv[1]}
		}
		req.Host = "app.example.com"
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode < 300:
			return false, nil
		case resp.StatusCode == 401 || resp.StatusCode == 403:
			return true, nil
		}
		return false, fmt.Errorf("status %d", resp.StatusCode)
	})
}

// drive runs call from c goroutines for d (or until limit calls, when
// limit > 0), each taking the next index of the stream, and measures
// latencies.
func drive(ctx context.Context, c int, d time.Duration, limit int, call func(context.Context, int) (denied bool, err error)) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			n, errs, denied := 0, 0, 0
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if limit > 0 && i >= limit {
					break
				}
				t := time.Now()
				cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
				den, err := call(cctx, i)
				ccancel()
				if err != nil {
					errs++
					continue
				}
				if den {
					denied++
				}
				lat = append(lat, time.Since(t))
				n++
			}
			mu.Lock()
			all = append(all, lat...)
			res.n += n
			res.errs += errs
			res.denied += denied
			mu.Unlock()
		})
	}
	wg.Wait()
	res.dur = time.Since(start)
	res.percentiles(all)
	return res
}

// ghzReport is the part of ghz's JSON report the harness reads.
type ghzReport struct {
	Count   int     `json:"count"`
	Total   int64   `json:"total"` // ns
	RPS     float64 `json:"rps"`
	Latency []struct {
		Percentage int   `json:"percentage"`
		Latency    int64 `json:"latency"` // ns
	} `json:"latencyDistribution"`
	StatusCodes map[string]int `json:"statusCodeDistribution"`
}

// runGhz runs ghz against addr's call with c concurrent workers on one
// connection for d, the metadata of the stream round-robin, and returns
// its result and the ghz process's CPU time.
func runGhz(ctx context.Context, ghz []string, addr, call, mdFile string, c int, d time.Duration) (loadResult, time.Duration, error) {
	args := append(slices.Clone(ghz[1:]), "--insecure", "--call", call, "-c", fmt.Sprint(c), "--connections", "1",
		"-z", d.String(), "-M", mdFile, "-O", "json", "--skipFirst", "0", addr)
	cmd := exec.CommandContext(ctx, ghz[0], args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return loadResult{}, 0, fmt.Errorf("ghz: %w", err)
	}
	var rep ghzReport
	if err := json.Unmarshal(out, &rep); err != nil {
		return loadResult{}, 0, fmt.Errorf("ghz output: %w", err)
	}
	res := loadResult{n: rep.Count, dur: time.Duration(rep.Total)}
	for code, n := range rep.StatusCodes {
		switch code {
		case "OK":
		case "Canceled": // calls in flight when ghz's duration ended
			res.n -= n
		case "Unauthenticated", "PermissionDenied":
			res.denied += n
		default:
			res.errs += n
			res.n -= n
		}
	}
	for _, l := range rep.Latency {
		switch l.Percentage {
		case 50:
			res.p50 = time.Duration(l.Latency)
		case 99:
			res.p99 = time.Duration(l.Latency)
		}
	}
	st := cmd.ProcessState
	return res, st.UserTime() + st.SystemTime(), nil
}

// writeGhzMetadata writes the headers of the stream's first request
// with a live session as ghz metadata. ghz sends the same metadata with
// every call (it has no round-robin for metadata), so the ghz rows
// measure one cached session.
func writeGhzMetadata(path string, reqs []*request) error {
	m := map[string]string{}
	for _, kv := range reqs[0].headers {
		if !strings.HasPrefix(kv[0], "content-") {
			m[kv[0]] = kv[1]
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
