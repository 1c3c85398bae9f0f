package enrich

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeUpstream struct {
	calls   atomic.Int64
	release chan struct{}
	handler http.HandlerFunc
}

func newClient(t *testing.T, h http.HandlerFunc, ttl time.Duration, now func() time.Time) (*Client, *fakeUpstream) {
	t.Helper()
	f := &fakeUpstream{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if r.Header.Get("X-Roles") != "admin" {
			t.Errorf("lookup without the service identity: %v", r.Header)
		}
		if f.release != nil {
			<-f.release
		}
		f.handler(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	h2 := http.Header{}
	h2.Set("X-Roles", "admin")
	c, err := New(Options{Upstream: u, HTTPClient: srv.Client(), Headers: h2, TTL: ttl, MaxEntries: 100, Timeout: time.Second, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return c, f
}

func imageHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/images/img-1":
		_, _ = w.Write([]byte(`{"id":"img-1","owner":"1000","visibility":"shared"}`))
	case "/v2/images/img-1/members/2000":
		_, _ = w.Write([]byte(`{"member_id":"2000","image_id":"img-1","status":"pending"}`))
	default:
		http.NotFound(w, r)
	}
}

func TestImageAndMembership(t *testing.T) {
	c, f := newClient(t, imageHandler, time.Minute, time.Now)
	ctx := context.Background()
	img, err := c.Image(ctx, ImageRef{ID: "img-1"})
	if err != nil || img["owner"] != "1000" {
		t.Fatalf("image = %v, %v", img, err)
	}
	if img, err := c.Image(ctx, ImageRef{ID: "missing"}); err != nil || img != nil {
		t.Fatalf("missing image = %v, %v", img, err)
	}
	m, err := c.Membership(ctx, "img-1", "2000")
	if err != nil || m == nil || m.Status != "pending" {
		t.Fatalf("membership = %+v, %v", m, err)
	}
	if m, err := c.Membership(ctx, "img-1", "3000"); err != nil || m != nil {
		t.Fatalf("no membership = %+v, %v", m, err)
	}
	before := f.calls.Load()
	_, _ = c.Image(ctx, ImageRef{ID: "img-1"})
	_, _ = c.Image(ctx, ImageRef{ID: "missing"})
	_, _ = c.Membership(ctx, "img-1", "3000")
	if f.calls.Load() != before {
		t.Fatal("cached answers (also negative ones) went upstream again")
	}
}

func TestCacheExpiresAndInvalidates(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, f := newClient(t, imageHandler, 5*time.Second, clock)
	ctx := context.Background()
	_, _ = c.Image(ctx, ImageRef{ID: "img-1"})
	_, _ = c.Image(ctx, ImageRef{ID: "img-1"})
	if f.calls.Load() != 1 {
		t.Fatalf("calls = %d", f.calls.Load())
	}
	mu.Lock()
	now = now.Add(6 * time.Second)
	mu.Unlock()
	_, _ = c.Image(ctx, ImageRef{ID: "img-1"})
	if f.calls.Load() != 2 {
		t.Fatalf("expired entry reused: calls = %d", f.calls.Load())
	}
	c.Invalidate(ImageRef{ID: "img-1"})
	_, _ = c.Image(ctx, ImageRef{ID: "img-1"})
	if f.calls.Load() != 3 {
		t.Fatalf("invalidated entry reused: calls = %d", f.calls.Load())
	}
}

func TestBurstMakesOneCall(t *testing.T) {
	c, f := newClient(t, imageHandler, time.Minute, time.Now)
	f.release = make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if img, err := c.Image(context.Background(), ImageRef{ID: "img-1"}); err != nil || img == nil {
				t.Errorf("burst lookup: %v %v", img, err)
			}
		}()
	}
	// Let the waiters pile up on the one call in flight, then answer it.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.release)
	wg.Wait()
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("a burst of 50 made %d upstream calls", n)
	}
}

func TestFailuresAreErrors(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"500":      func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) },
		"403":      func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(403) },
		"not JSON": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) },
		"data after the record": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"id":"img-1","visibility":"public","owner":"2000"} {"visibility":"private"}`))
		},
		"wrong id": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"id":"other","visibility":"public"}`))
		},
		"no vis": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"id":"img-1"}`)) },
		"owner type": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"id":"img-1","visibility":"public","owner":5}`))
		},
		"slow":        func(w http.ResponseWriter, _ *http.Request) { time.Sleep(1500 * time.Millisecond) },
		"huge answer": func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(make([]byte, 2<<20)) },
	} {
		t.Run(name, func(t *testing.T) {
			c, _ := newClient(t, h, time.Minute, time.Now)
			img, err := c.Image(context.Background(), ImageRef{ID: "img-1"})
			if !errors.Is(err, ErrUpstream) || img != nil {
				t.Fatalf("image = %v, err = %v; want ErrUpstream", img, err)
			}
		})
	}
}

func TestMembershipOfAnotherMemberIsAnError(t *testing.T) {
	c, _ := newClient(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"member_id":"9999","status":"accepted"}`))
	}, time.Minute, time.Now)
	if _, err := c.Membership(context.Background(), "img-1", "2000"); !errors.Is(err, ErrUpstream) {
		t.Fatalf("err = %v", err)
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(3, time.Minute, time.Now)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		c.putImage(c.generation(), id, map[string]any{"id": id})
	}
	if n := len(c.entries); n > 3 {
		t.Fatalf("cache holds %d entries, bound 3", n)
	}
	if _, ok := c.image("e"); !ok {
		t.Fatal("newest entry evicted")
	}
}

func TestStaleLookupNotCachedAfterInvalidate(t *testing.T) {
	c := newCache(10, time.Minute, time.Now)
	gen := c.generation()
	c.forget("a") // a write passed while the lookup was in flight
	c.putImage(gen, "a", map[string]any{"id": "a"})
	if _, ok := c.image("a"); ok {
		t.Fatal("a lookup that raced a write was cached")
	}
}
