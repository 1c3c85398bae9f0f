package imageapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestConcurrentUse exercises every kind of request at once; run with -race.
func TestConcurrentUse(t *testing.T) {
	a := newDemo(t, Enforcing)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan string, workers*100)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			check := func(rq request, code int) {
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, rq.build())
				if rec.Code != code {
					errs <- fmt.Sprintf("%s %s: %d, want %d", rq.method, rq.path, rec.Code, code)
				}
			}
			for i := range 20 {
				rec := httptest.NewRecorder()
				a.ServeHTTP(rec, request{method: "POST", path: "/v2/images", id: member1000,
					body: map[string]any{"name": fmt.Sprintf("w%d-%d", w, i), "disk_format": "raw", "container_format": "bare"}}.build())
				if rec.Code != http.StatusCreated {
					errs <- fmt.Sprintf("create: %d", rec.Code)
					return
				}
				var created struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
					errs <- "create body: " + err.Error()
					return
				}
				id := created.ID
				check(request{method: "PUT", path: "/v2/images/" + id + "/file", id: member1000, headers: octetHeaders(), body: []byte("data")}, 204)
				check(request{method: "PUT", path: "/v2/images/" + id + "/tags/t", id: member1000}, 204)
				check(request{method: "PATCH", path: "/v2/images/" + id, id: member1000, headers: patchHeaders(),
					body: `[{"op":"add","path":"/k","value":"v"}]`}, 200)
				check(request{method: "GET", path: "/v2/images?limit=10", id: member1000}, 200)
				check(request{method: "GET", path: "/v2/images/" + id + "/file", id: member1000}, 200)
				check(request{method: "PUT", path: "/v2/images/" + DemoImageSharedA + "/members/2000", id: member2000,
					body: map[string]string{"status": "accepted"}}, 200)
				check(request{method: "GET", path: "/v2/images/" + DemoImageSharedA + "/members", id: member1000}, 200)
				check(request{method: "DELETE", path: "/v2/images/" + id, id: member1000}, 204)
				_ = a.Stats()
				_ = a.Requests()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
