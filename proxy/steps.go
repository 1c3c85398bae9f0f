package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/imagegate/imagegate/audit"
	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// recoverPanics turns a panic into a 500 and a log line. http.ErrAbortHandler is the
// forwarder's way to cut a streaming response the client must see as broken; it is
// passed on.
func (p *Proxy) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			p.log.Error("panic on the request path", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if x := exchangeOf(r); x != nil && x.status == 0 {
				p.deny(w, x, http.StatusInternalServerError, codeInternal, "internal error", nil)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitInFlight bounds concurrent requests so that a burst is refused early instead of
// growing memory without bound.
func (p *Proxy) limitInFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case p.inFlight <- struct{}{}:
		default:
			x := &exchange{start: time.Now(), requestID: requestID(r)}
			p.overloaded(w, x, "requests")
			p.logDecision(r, x)
			return
		}
		p.metrics.InFlight.Inc()
		defer func() {
			<-p.inFlight
			p.metrics.InFlight.Dec()
		}()
		next.ServeHTTP(w, r)
	})
}

// overloaded answers 503 with Retry-After: a bound on what is in flight is reached.
func (p *Proxy) overloaded(w http.ResponseWriter, x *exchange, what string) {
	p.metrics.Rejected.WithLabelValues(codeOverloaded).Inc()
	w.Header().Set("Retry-After", "1")
	p.deny(w, x, http.StatusServiceUnavailable, codeOverloaded, "too many "+what+" in flight", nil)
}

// limitData bounds the image data transfers in flight: each holds a copy buffer, an
// upstream connection and their goroutines for as long as the data flows, and downloads
// offered faster than they can be served would otherwise hold memory without bound.
func (p *Proxy) limitData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		if x.op.Body != route.BodyData && !isDataDownload(x.op.Name) {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case p.dataInFlight <- struct{}{}:
		default:
			p.overloaded(w, x, "image data transfers")
			return
		}
		defer func() { <-p.dataInFlight }()
		next.ServeHTTP(w, r)
	})
}

// isDataDownload reports whether the operation answers with image data (streamed to the
// client; the uploads are the operations whose body is route.BodyData).
func isDataDownload(op string) bool { return op == "images.download" }

// account creates the exchange, and after the request writes its decision event and
// metrics, whatever step answered it.
func (p *Proxy) account(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{start: time.Now(), requestID: requestID(r), clientHost: r.Host, tls: r.TLS != nil}
		w.Header().Set("X-Request-Id", x.requestID)
		r = r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x))
		rec := &statusRecorder{ResponseWriter: w, writeIdle: p.cfg.Limits.DataIdleTimeout.D()}
		defer func() {
			// A panic is settled here, where the exchange is known, so that the event
			// says what happened: the step that panicked answered nothing (net/http would
			// send an empty 200), and ReverseProxy aborts a response it could not finish
			// copying (the client sees the connection cut).
			v := recover()
			switch {
			case v == nil:
			case v == http.ErrAbortHandler:
				x.code = codeStreamAborted
				x.reasons = append(x.reasons, "the answer was cut short: the upstream or the client connection failed while streaming")
			default:
				p.log.Error("panic on the request path", "request_id", x.requestID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status == 0 {
					p.deny(rec, x, http.StatusInternalServerError, codeInternal, "internal error", nil)
				} else {
					// The answer has begun: cut the connection rather than let a partial
					// answer end as if it were complete.
					x.code = codeInternal
					v = http.ErrAbortHandler
				}
			}
			if x.status == 0 {
				x.status = rec.status
			}
			p.logDecision(r, x)
			if v == http.ErrAbortHandler {
				panic(v)
			}
			rec.liftDeadline()
		}()
		next.ServeHTTP(rec, r)
	})
}

// route recognises the operation. What cannot be read one way only is refused here.
func (p *Proxy) route(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		op, query, err := p.router.Resolve(r, p.cfg.Limits.MaxQueryParams)
		if err != nil {
			var rerr *route.Error
			if !errors.As(err, &rerr) {
				p.deny(w, x, http.StatusBadRequest, codeBadPath, err.Error(), nil)
				return
			}
			status := rerr.Status()
			if len(rerr.Allow) > 0 {
				w.Header().Set("Allow", strings.Join(rerr.Allow, ", "))
			}
			p.metrics.Rejected.WithLabelValues(rerr.Code).Inc()
			p.deny(w, x, status, rerr.Code, rerr.Message, nil)
			return
		}
		x.op, x.query = op, query
		if op.Deprecated {
			w.Header().Set("Deprecation", "true")
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the token.
func (p *Proxy) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		start := time.Now()
		principal, err := p.authn.Authenticate(r.Context(), r)
		x.authnTime = time.Since(start)
		p.metrics.ObserveStage("authn", x.authnTime)
		if err != nil {
			code := authn.CodeOf(err)
			status := code.HTTPStatus()
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="imagegate", error="invalid_token", error_description=%q`, string(code)))
			}
			msg := "authentication failed: " + string(code)
			var aerr *authn.Error
			if errors.As(err, &aerr) && aerr.Message != "" {
				msg = "authentication failed: " + aerr.Message
			}
			p.deny(w, x, status, string(code), msg, nil)
			return
		}
		x.principal = principal
		next.ServeHTTP(w, r)
	})
}

// readBody reads the small JSON documents the policy inspects, bounded in size and
// parsed strictly, and hands the same bytes to the upstream. Image data is not touched.
func (p *Proxy) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		switch x.op.Body {
		case route.BodyData:
			if d := p.cfg.Limits.DataIdleTimeout.D(); d > 0 && r.Body != nil && r.Body != http.NoBody {
				r.Body = &clientDataBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: d}
			}
			next.ServeHTTP(w, r)
			return
		case route.BodyNone:
			// A body on an operation that takes none is something the policy never saw.
			if r.ContentLength > 0 || (r.ContentLength < 0 && len(r.TransferEncoding) > 0) {
				p.deny(w, x, http.StatusBadRequest, codeBadBody, x.op.Name+" takes no request body", nil)
				return
			}
			r.Body = http.NoBody
			next.ServeHTTP(w, r)
			return
		}
		mt, err := mediaType(r.Header.Get("Content-Type"))
		if err != nil {
			p.deny(w, x, http.StatusBadRequest, codeBadBody, err.Error(), nil)
			return
		}
		switch x.op.Body {
		case route.BodyPatch:
			if mt != patchMediaV21 && mt != patchMediaV20 {
				p.deny(w, x, http.StatusUnsupportedMediaType, codeUnsupportedMedia,
					"PATCH needs Content-Type "+patchMediaV21, nil)
				return
			}
		case route.BodyJSON:
			if mt != "" && !isJSONMedia(mt) {
				p.deny(w, x, http.StatusUnsupportedMediaType, codeUnsupportedMedia,
					x.op.Name+" takes a JSON body (Content-Type application/json)", nil)
				return
			}
		}
		var rc *http.ResponseController
		if d := p.cfg.Limits.BodyReadTimeout.D(); d > 0 {
			rc = http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(d))
		}
		raw, err := readLimited(r.Body, p.cfg.Limits.MaxJSONBodyBytes)
		if err == nil && rc != nil {
			_ = rc.SetReadDeadline(time.Time{})
		}
		// Otherwise the deadline stays: net/http then drops the connection after the
		// answer instead of waiting for the rest of a body that may never come.
		if isReadTimeout(err) {
			w.Header().Set("Connection", "close")
			p.deny(w, x, http.StatusRequestTimeout, codeRequestTimeout,
				fmt.Sprintf("the request body did not arrive within %s", p.cfg.Limits.BodyReadTimeout.D()), nil)
			return
		}
		if errors.Is(err, errTooLarge) {
			p.deny(w, x, http.StatusRequestEntityTooLarge, codeBodyTooLarge,
				fmt.Sprintf("request body over %d bytes", p.cfg.Limits.MaxJSONBodyBytes), nil)
			return
		}
		if err != nil {
			p.deny(w, x, http.StatusBadRequest, codeBadBody, "reading the request body failed", nil)
			return
		}
		if x.body, x.patch, err = DecodeBody(x.op, raw, p.cfg.Limits.MaxJSONDepth); err != nil {
			p.deny(w, x, http.StatusBadRequest, codeBadBody, err.Error(), nil)
			return
		}
		// The upstream reads exactly the bytes the policy decided on.
		r.Body = io.NopCloser(bytes.NewReader(raw))
		r.ContentLength = int64(len(raw))
		r.TransferEncoding = nil
		next.ServeHTTP(w, r)
	})
}

// enrich looks up the image the operation touches and the caller's membership of it,
// and (gcore dialect, reseller.source upstream) the caller's reseller limits and shared
// images. A lookup that fails denies: the policy never decides on missing facts.
func (p *Proxy) enrich(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		id := x.op.Params["image_id"]
		if id == "" && !p.wantsReseller(x) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		var err error
		if x.reseller, err = p.lookupReseller(r.Context(), x); err != nil {
			p.log.Warn("enrichment failed", "request_id", x.requestID, "reseller", x.principal.Reseller, "error", err)
			p.deny(w, x, http.StatusBadGateway, codeEnrichError, "could not look up the reseller limits to decide the request", nil)
			return
		}
		if id != "" {
			x.image, x.member, err = p.lookupImage(r.Context(), imageRef(x.op), x.principal.Tenant)
		}
		x.enrichTime = time.Since(start)
		p.metrics.ObserveStage("enrich", x.enrichTime)
		if err != nil {
			p.log.Warn("enrichment failed", "request_id", x.requestID, "image_id", id, "error", err)
			p.deny(w, x, http.StatusBadGateway, codeEnrichError, "could not look up the image to decide the request", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lookupImage returns the image record and, when the caller does not own it, the
// caller's membership (Glance; the v1 dialect has no memberships).
func (p *Proxy) lookupImage(ctx context.Context, ref enrich.ImageRef, tenant string) (map[string]any, *policy.Membership, error) {
	img, err := p.enricher.Image(ctx, ref)
	if err != nil || img == nil || p.gcore() {
		return img, nil, err
	}
	id := ref.ID
	if owner, _ := img["owner"].(string); owner == tenant {
		return img, nil, nil
	}
	m, err := p.enricher.Membership(ctx, id, tenant)
	if err != nil {
		return nil, nil, err
	}
	if m == nil {
		return img, nil, nil
	}
	return img, &policy.Membership{MemberID: m.MemberID, Status: m.Status}, nil
}

// decide asks the policy. Anything but an explicit allow denies.
func (p *Proxy) decide(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		start := time.Now()
		in := p.input(r, x)
		d, revision, err := p.policy.Decide(r.Context(), in)
		x.policyTime = time.Since(start)
		x.revision = revision
		p.metrics.ObserveStage("policy", x.policyTime)
		if err != nil {
			p.log.Error("policy evaluation failed", "request_id", x.requestID, "error", err)
			p.deny(w, x, http.StatusInternalServerError, codePolicyError, "the policy could not decide this request", nil)
			return
		}
		x.decision, x.decided = d, true
		if p.shadow != nil {
			p.runShadow(r, x, in)
		}
		if !d.Allow && p.cfg.Policy.DryRun {
			// Roll-out mode: the denial is logged, the request goes through.
			x.dryRun = true
			x.reasons = d.Reasons
			p.log.Warn("dry run: a denied request is forwarded", "request_id", x.requestID,
				"operation", x.op.Name, "status", d.Status, "reasons", d.Reasons)
			next.ServeHTTP(w, r)
			return
		}
		if !d.Allow {
			msg := "forbidden"
			if d.Hide || d.Status == http.StatusNotFound {
				// A hidden resource gets the message of a missing one: nothing to tell apart.
				msg = "not found"
				d.Reasons = nil
			} else if len(d.Reasons) > 0 {
				msg = d.Reasons[0]
			}
			p.deny(w, x, d.Status, d.Code, msg, d.Reasons)
			// The event keeps the real reasons for the auditor.
			x.reasons = x.decision.Reasons
			return
		}
		x.reasons = d.Reasons
		next.ServeHTTP(w, r)
	})
}

// runShadow evaluates the shadow policy on the enforced policy's input and counts
// whether it agrees. Its answer never changes what the caller gets.
func (p *Proxy) runShadow(r *http.Request, x *exchange, in *policy.Input) {
	d, _, err := p.shadow.Decide(r.Context(), in)
	if err != nil {
		p.metrics.ShadowDecisions.WithLabelValues("error").Inc()
		p.log.Warn("shadow policy failed", "request_id", x.requestID, "error", err)
		return
	}
	x.shadow = &d
	if d.Allow == x.decision.Allow && d.Status == x.decision.Status {
		p.metrics.ShadowDecisions.WithLabelValues("same").Inc()
		return
	}
	p.metrics.ShadowDecisions.WithLabelValues("differ").Inc()
	p.log.Info("shadow policy disagrees", "request_id", x.requestID, "operation", x.op.Name,
		"enforced_allow", x.decision.Allow, "enforced_status", x.decision.Status,
		"shadow_allow", d.Allow, "shadow_status", d.Status, "shadow_reasons", d.Reasons)
}

// checkListMarker closes a small leak of Glance: a marker naming another tenant's image
// answers differently from an unknown marker. A marker the caller may not see is
// refused exactly as an unknown one.
func (p *Proxy) checkListMarker(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r)
		marker := x.query.Get("marker")
		if x.op.Name != "images.list" || marker == "" || p.gcore() {
			next.ServeHTTP(w, r)
			return
		}
		if id, sealed, err := p.sealer.unseal(x.principal.Tenant, marker); sealed {
			if err != nil {
				p.deny(w, x, http.StatusBadRequest, "bad_marker", err.Error(), nil)
				return
			}
			// A marker this proxy sealed for this caller: the upstream gets the real id.
			x.query.Set("marker", id)
			x.outQuery = x.query.Encode()
			next.ServeHTTP(w, r)
			return
		}
		img, member, err := p.lookupImage(r.Context(), enrich.ImageRef{ID: marker}, x.principal.Tenant)
		if err != nil {
			p.deny(w, x, http.StatusBadGateway, codeEnrichError, "could not look up the pagination marker", nil)
			return
		}
		visible := false
		if img != nil {
			ids, err := p.policy.VisibleIDs(r.Context(), p.markerInput(r, x), []policy.Item{itemOf(img, member)})
			if err != nil {
				p.deny(w, x, http.StatusInternalServerError, codePolicyError, "the policy could not decide this request", nil)
				return
			}
			visible = ids[marker]
		}
		if !visible {
			p.deny(w, x, http.StatusBadRequest, "bad_marker", "marker "+marker+" not found", nil)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// markerInput asks whether the marker image is visible under any list filter: the
// caller's own query filters decide which page comes next, not whether it may name it.
func (p *Proxy) markerInput(r *http.Request, x *exchange) *policy.Input {
	in := p.input(r, x)
	q := make(map[string][]string, len(x.query)+2)
	for k, v := range x.query {
		q[k] = v
	}
	q["visibility"] = []string{"all"}
	q["member_status"] = []string{"all"}
	in.Query = q
	return in
}

// itemOf is the list filter's view of an image record.
func itemOf(img map[string]any, member *policy.Membership) policy.Item {
	it := policy.Item{}
	it.ID, _ = img["id"].(string)
	it.Owner, _ = img["owner"].(string)
	it.Visibility, _ = img["visibility"].(string)
	if member != nil {
		it.MemberStatus = member.Status
	}
	return it
}

// logDecision writes the decision event and the request metrics.
func (p *Proxy) logDecision(r *http.Request, x *exchange) {
	decision := "deny"
	switch {
	case x.decided && x.decision.Allow:
		decision = "allow"
	case x.status >= 500 && x.code != "":
		decision = "error"
	}
	opName := x.op.Name
	if opName == "" {
		opName = "unknown"
	}
	dialect := x.op.Dialect
	if dialect == "" {
		dialect = p.cfg.Dialect
	}
	elapsed := time.Since(x.start)
	p.metrics.Requests.WithLabelValues(dialect, opName, decision, fmt.Sprint(x.status)).Inc()
	p.metrics.RequestDuration.WithLabelValues(dialect, opName, decision).Observe(elapsed.Seconds())

	ev := &audit.Event{
		DecisionID: audit.NewDecisionID(),
		Timestamp:  x.start.UTC(),
		Path:       "imagegate/decision",
		Revision:   x.revision,
		RequestID:  x.requestID,
		Input: audit.EventInput{
			Dialect:    dialect,
			Operation:  x.op.Name,
			Params:     x.op.Params,
			Deprecated: x.op.Deprecated,
			Method:     r.Method,
			Path:       r.URL.EscapedPath(),
			Query:      r.URL.RawQuery,
			RemoteAddr: r.RemoteAddr,
		},
		Result: audit.EventResult{
			Allow:   x.decided && x.decision.Allow && x.status < 400,
			Status:  x.status,
			Code:    x.code,
			Reasons: x.reasons,
			Hide:    x.decision.Hide,
			DryRun:  x.dryRun,
		},
		Metrics: map[string]int64{
			"timer_server_handler_ns": elapsed.Nanoseconds(),
		},
		UpstreamStatus: x.upstreamStatus,
		Filtered:       x.filtered,
	}
	if x.authnTime > 0 {
		ev.Metrics["timer_authn_ns"] = x.authnTime.Nanoseconds()
	}
	if x.enrichTime > 0 {
		ev.Metrics["timer_enrich_ns"] = x.enrichTime.Nanoseconds()
	}
	if x.policyTime > 0 {
		ev.Metrics["timer_rego_query_eval_ns"] = x.policyTime.Nanoseconds()
	}
	if x.upstreamTime > 0 {
		ev.Metrics["timer_upstream_ns"] = x.upstreamTime.Nanoseconds()
	}
	if pr := x.principal; pr != nil {
		ev.Input.Principal = &audit.EventPrincipal{
			User: pr.User, Tenant: pr.Tenant, Roles: pr.Roles, Reseller: pr.Reseller, Issuer: pr.Issuer,
		}
	}
	if sd := x.shadow; sd != nil {
		ev.Shadow = &audit.EventResult{Allow: sd.Allow, Status: sd.Status, Code: sd.Code, Reasons: sd.Reasons, Hide: sd.Hide}
	}
	if x.image != nil {
		ev.Input.ImageOwner, _ = x.image["owner"].(string)
		if owner, ok := x.image["project_id"]; ok && p.gcore() && owner != nil {
			ev.Input.ImageOwner = fmt.Sprint(owner)
		}
		ev.Input.ImageVisibility, _ = x.image["visibility"].(string)
	}
	p.audit.Log(ev)
}

// statusRecorder remembers the status written, for the event; it passes Flush and
// Unwrap on so that streaming and http.ResponseController keep working.
//
// With writeIdle set, every write must reach the client within it (a client that stops
// reading a download is cut, see deadlines.go); the deadline is lifted when the handler
// is done (liftDeadline), so that it cannot outlive the request on a kept-alive connection.
type statusRecorder struct {
	http.ResponseWriter
	status    int
	writeIdle time.Duration
	rc        *http.ResponseController
}

func (s *statusRecorder) extendDeadline() {
	if s.writeIdle <= 0 {
		return
	}
	if s.rc == nil {
		s.rc = http.NewResponseController(s.ResponseWriter)
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeIdle))
}

func (s *statusRecorder) liftDeadline() {
	if s.rc != nil {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.extendDeadline()
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.extendDeadline()
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		s.extendDeadline()
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// requestID keeps a client's request id when it is short and plain, else makes one.
// Glance refuses ids over 64 characters, and the id goes into logs.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && isPlainID(id) {
		return id
	}
	return "req-" + audit.NewDecisionID()
}

func isPlainID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
