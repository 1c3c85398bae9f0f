// Command cannedglance is the load harness's upstream: a static server answering Glance
// v2 requests with answers rendered beforehand (bench/internal/canned), whoever asks and
// whatever identity headers come with the request. It does next to no work per request,
// so that the measurements are of the hops in front of it.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/imagegate/imagegate/bench/internal/canned"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (loopback)")
	routes := flag.String("routes", "", "routes file written by loadbench")
	flag.Parse()
	answers, err := canned.Load(*routes)
	if err != nil {
		log.Fatal(err)
	}
	notFound := []byte(`{"message": "The resource could not be found.", "code": "404 Not Found", "title": "Not Found"}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		a := answers[canned.Key(r.Method, r.URL.RequestURI())]
		if a == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write(notFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ContentType)
		h.Set("Content-Length", strconv.Itoa(len(a.Body)))
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
