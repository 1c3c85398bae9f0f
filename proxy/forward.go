package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"

	"github.com/imagegate/imagegate/config"
)

// newForwarder builds the reverse proxy to the upstream. It uses Rewrite, not Director:
// Rewrite runs after the hop-by-hop headers (including any the client named in
// Connection) are removed, so a client cannot list X-Roles in Connection to strip the
// identity headers the proxy sets.
func (p *Proxy) newForwarder(transport http.RoundTripper) http.Handler {
	return &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		BufferPool:     newBufferPool(),
		// Image data streams: flush what arrives at once instead of waiting for a full
		// buffer, so a slow upstream does not look stalled to the client.
		FlushInterval: -1,
		ErrorLog:      slogErrorLog(p.log),
	}
}

// rewrite dresses the outgoing request: upstream URL, no client identity headers, the
// trusted identity headers, no token unless configured.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	x := exchangeOf(pr.In)
	pr.SetURL(p.upstream)
	// SetURL joins the paths; keep the client's escaped form (already checked canonical)
	// so that the upstream reads exactly the path the policy decided on.
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
	if x.outQuery != "" {
		pr.Out.URL.RawQuery = x.outQuery
	}

	h := pr.Out.Header
	token := h.Get("X-Auth-Token")
	authz := h.Get("Authorization")
	p.strip.strip(h)
	h.Del("Authorization")
	h.Del("Forwarded")
	if x.decision.Filter != "" || x.op.Name == "versions.list" {
		// The proxy reads these answers; let the transport handle compression.
		h.Del("Accept-Encoding")
	}
	if p.cfg.Upstream.ForwardToken {
		if token != "" {
			h.Set("X-Auth-Token", token)
		}
		if authz != "" {
			h.Set("Authorization", authz)
		}
	}

	// Identity the upstream trusts (Glance's context middleware reads these).
	h.Set("X-Identity-Status", "Confirmed")
	h.Set("X-Openstack-Request-Id", x.requestID)
	pr0 := x.principal
	h.Set("X-Project-Id", pr0.Tenant)
	if pr0.User != "" {
		h.Set("X-User-Id", pr0.User)
	}
	var roles []string
	if p.cfg.Upstream.Mode == config.ModeService {
		// The upstream grants the proxy's service roles to every call; the caller's
		// project still owns what it creates. Only the proxy enforces visibility.
		roles = p.cfg.Upstream.ServiceIdentity.Roles
	} else {
		roles = mapRoles(pr0.Roles, p.cfg.Upstream.RoleMap)
	}
	if len(roles) > 0 {
		h.Set("X-Roles", strings.Join(roles, ","))
	}
	x.upstreamStart = time.Now()
}

// mapRoles turns principal roles into upstream roles, deduplicated, in a stable order.
func mapRoles(roles []string, m map[string][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range roles {
		for _, u := range m[r] {
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// upstreamError answers for an upstream that could not be reached or answered badly.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeOf(r)
	if !x.upstreamStart.IsZero() && x.upstreamTime == 0 {
		x.upstreamTime = time.Since(x.upstreamStart)
	}
	var ferr *filterError
	switch {
	case errors.Is(err, errHidden):
		p.deny(w, x, http.StatusNotFound, codeNotFound, "not found", []string{"the resource in the answer is not visible to the caller"})
	case errors.As(err, &ferr):
		p.log.Error("response obligation failed", "request_id", x.requestID, "error", err)
		p.deny(w, x, http.StatusBadGateway, codeUpstreamBadAnswer, "the upstream's answer could not be checked", nil)
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nothing to answer. 499 as nginx records it.
		x.status, x.code = 499, "client_closed_request"
	case isTimeout(err):
		p.log.Warn("upstream timeout", "request_id", x.requestID, "error", err)
		p.deny(w, x, http.StatusGatewayTimeout, codeUpstreamTimeout, "the image service did not answer in time", nil)
	default:
		p.log.Warn("upstream error", "request_id", x.requestID, "error", err)
		p.deny(w, x, http.StatusBadGateway, codeUpstreamError, "the image service could not be reached", nil)
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bufferPool recycles the 32 KiB copy buffers of streamed bodies.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *(b.pool.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.pool.Put(&v) }
