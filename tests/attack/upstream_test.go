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

	switch fault {
	case faultResetList:
		resetAfter(w, "application/json", 4096, `{"images": [{"id": "`+imageapi.DemoImagePrivateA+`", "owner": "1000", "visibility": "private", "name": "t1000-private-db"}, `)
	case faultResetData:
		resetAfter(w, "application/octet-stream", 1<<20, strings.Repeat("x", 64<<10))
	case faultSlowHeaders:
		time.Sleep(f.slow)
		w.WriteHeader(http.StatusOK)
	case faultBadShape:
		writeJSON(w, `{"images": {"id": "x"}}`)
	case faultNoVisibility:
		writeJSON(w, `{"images": [{"id": "`+imageapi.DemoImagePrivateA+`", "owner": "1000", "name": "t1000-private-db"}]}`)
	case faultGzip:
		w.Header().Set("Content-Encoding", "gzip")
		writeJSON(w, `{"images": []}`)
	case faultHuge:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"images": [`)
		item := `{"id": "` + imageapi.DemoImagePrivateA + `", "owner": "1000", "visibility": "private", "name": "t1000-private-db"},`
		for i := 0; i < (2<<20)/len(item); i++ {
			_, _ = io.WriteString(w, item)
		}
		_, _ = io.WriteString(w, `{"id": "x", "owner": "2000", "visibility": "private"}]}`)
	case faultWrongImage:
		writeJSON(w, fmt.Sprintf(`{"id": %q, "owner": "1000", "visibility": "private", "name": "t1000-private-db", "status": "active"}`, imageapi.DemoImagePrivateA))
	case faultDuplicateID:
		writeJSON(w, fmt.Sprintf(`{"images": [
			{"id": %q, "owner": "2000", "visibility": "private", "name": "t2000-private"},
			{"id": %q, "owner": "1000", "visibility": "private", "name": "t1000-private-db"}]}`,
			imageapi.DemoImagePrivateB, imageapi.DemoImagePrivateB))
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
