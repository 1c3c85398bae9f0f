package attack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/imagegate/imagegate/imageapi"
)

// Faults the corpus upstream injects, chosen by a tag in the request id the proxy
// forwards (X-Openstack-Request-Id): the proxy's own lookups carry none, so only the
// decided request misbehaves.
const (
	faultResetList     = "reset-list"      // list answer cut by a TCP reset halfway
	faultResetData     = "reset-data"      // image data cut by a TCP reset halfway
	faultSlowHeaders   = "slow-headers"    // headers later than response_header_timeout
	faultBadShape      = "bad-shape"       // a list whose images is not an array
	faultNoVisibility  = "no-visibility"   // list items without a visibility
	faultGzip          = "gzip"            // a list the proxy cannot read (encoded)
	faultHuge          = "huge"            // a list over max_response_bytes
	faultWrongImage    = "wrong-image"     // a single-image answer naming another image
	faultForeignInList = "foreign-in-list" // another tenant's private image in the list
	faultDuplicateID   = "duplicate-id"    // a hidden image repeating a visible image's id
	faultCaseVariant   = "case-variant"    // "Visibility": "public" after the core field
)

// faultUpstream is the in-memory image API with faults on demand. It remembers every
// request it answered with a fault, by request id.
type faultUpstream struct {
	// shape writes answers of the dialect under test, so that a fault reaches the check
	// meant for it instead of being refused for the wrong shape.
	shape    faultShape
	api      http.Handler
	requests func() []imageapi.RecordedRequest
	slow     time.Duration

	mu     sync.Mutex
	served map[string][]imageapi.RecordedRequest
}

func (f *faultUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := r.Header.Get("X-Openstack-Request-Id")
	fault := ""
	for _, name := range []string{faultResetList, faultResetData, faultSlowHeaders, faultBadShape,
		faultNoVisibility, faultGzip, faultHuge, faultWrongImage, faultForeignInList, faultDuplicateID, faultCaseVariant} {
		if strings.HasSuffix(rid, "-"+name) {
			fault = name
		}
	}
	if fault == "" {
		f.api.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	if f.served == nil {
		f.served = map[string][]imageapi.RecordedRequest{}
	}
	f.served[rid] = append(f.served[rid], imageapi.RecordedRequest{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		Header: r.Header.Clone(), Route: "fault:" + fault,
	})
	f.mu.Unlock()

	s := f.shape
	switch fault {
	case faultResetList:
		resetAfter(w, "application/json", 4096, s.pageOpen(2)+s.record(s.victim, s.victimOwner, "private", s.victimName)+", ")
	case faultResetData:
		resetAfter(w, "application/octet-stream", 1<<20, strings.Repeat("x", 64<<10))
	case faultSlowHeaders:
		time.Sleep(f.slow)
		w.WriteHeader(http.StatusOK)
	case faultBadShape:
		writeJSON(w, `{"`+s.listKey+`": {"id": "x"}}`)
	case faultNoVisibility:
		writeJSON(w, s.page(s.record(s.victim, s.victimOwner, "", s.victimName)))
	case faultGzip:
		w.Header().Set("Content-Encoding", "gzip")
		writeJSON(w, s.page())
	case faultHuge:
		w.Header().Set("Content-Type", "application/json")
		item := s.record(s.victim, s.victimOwner, "private", s.victimName) + ","
		n := (2 << 20) / len(item)
		_, _ = io.WriteString(w, s.pageOpen(n+1))
		for i := 0; i < n; i++ {
			_, _ = io.WriteString(w, item)
		}
		_, _ = io.WriteString(w, s.record("x", s.victimOwner, "private", "x")+"]}")
	case faultWrongImage:
		writeJSON(w, s.record(s.victim, s.victimOwner, "private", s.victimName))
	case faultDuplicateID:
		writeJSON(w, s.page(
			s.record(s.own, s.attacker, "private", "own"),
			s.record(s.own, s.victimOwner, "private", s.victimName)))
	case faultCaseVariant:
		writeJSON(w, fmt.Sprintf(`{"images": [
			{"id": %q, "owner": "1000", "visibility": "private", "name": "t1000-private-db", "Visibility": "public", "Owner": "2000"}]}`,
			imageapi.DemoImagePrivateA))
	case faultForeignInList:
		writeJSON(w, fmt.Sprintf(`{"images": [
			{"id": %q, "owner": "1000", "visibility": "private", "name": "t1000-private-db"},
			{"id": %q, "owner": "3000", "visibility": "private", "name": "t3000-private"},
			{"id": %q, "owner": "2000", "visibility": "private", "name": "t2000-private"}], "first": "/v2/images"}`,
			imageapi.DemoImagePrivateA, imageapi.DemoImagePrivateC, imageapi.DemoImagePrivateB))
	}
}

// faultShape writes list pages and image records as a dialect's upstream does.
type faultShape struct {
	listKey  string // the page's member holding the items
	ownerKey string // the record's member naming the owning tenant
	more     string // members every record of the dialect has (after the id)
	// The attacker's own image and tenant, and a victim's private image.
	own, attacker, victim, victimOwner, victimName string
}

var (
	glanceFaults = faultShape{listKey: "images", ownerKey: "owner", more: `"status": "active", `,
		own: imageapi.DemoImagePrivateB, attacker: imageapi.DemoTenantB,
		victim: imageapi.DemoImagePrivateA, victimOwner: imageapi.DemoTenantA, victimName: "t1000-private-db"}
	gcoreFaults = faultShape{listKey: "results", ownerKey: "project_id", more: `"region_id": ` + imageapi.GcoreRegion + `, `,
		own: imageapi.GcoreImageGreenWeb, attacker: imageapi.GcoreProjectGreen,
		victim: imageapi.GcoreImageIndie, victimOwner: imageapi.GcoreProjectIndie, victimName: "indie"}
)

// record is an image record; an empty visibility leaves the member out.
func (s faultShape) record(id, owner, visibility, name string) string {
	vis := ""
	if visibility != "" {
		vis = fmt.Sprintf(`"visibility": %q, `, visibility)
	}
	return fmt.Sprintf(`{"id": %q, %s%q: %q, %s"name": %q}`, id, s.more, s.ownerKey, owner, vis, name)
}

// pageOpen is the start of a page of n items, up to its first item.
func (s faultShape) pageOpen(n int) string {
	if s.listKey == "results" {
		return fmt.Sprintf(`{"count": %d, "results": [`, n)
	}
	return `{"images": [`
}

// page is a whole page of items.
func (s faultShape) page(items ...string) string {
	return s.pageOpen(len(items)) + strings.Join(items, ", ") + "]}"
}

// recorded returns what the fault upstream answered for request id rid.
func (f *faultUpstream) recorded(rid string) []imageapi.RecordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]imageapi.RecordedRequest(nil), f.served[rid]...)
}

func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, body)
}

// resetAfter announces length bytes, sends part, and resets the connection.
func resetAfter(w http.ResponseWriter, contentType string, length int, part string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", fmt.Sprint(length))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, part)
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}
