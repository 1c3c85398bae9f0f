// Command barehop is the cost of any Go hop: httputil.ReverseProxy in front of the
// upstream and nothing else, no authentication, no decision, no log.
//
// By default it is the proxy as most Go programs write it, NewSingleHostReverseProxy
// with http.DefaultTransport (two idle connections kept per host, a new 32 KiB copy
// buffer per response). -tuned keeps as many idle upstream connections as there are
// clients and pools the copy buffers, as imagegate does.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // served on -pprof only
	"net/url"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (loopback)")
	upstream := flag.String("upstream", "", "upstream base URL")
	tuned := flag.Bool("tuned", false, "reuse upstream connections and pool copy buffers")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("-upstream %q: %v", *upstream, err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	if *tuned {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
		rp.Transport = t
		rp.BufferPool = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	}
	if *pprofAddr != "" {
		go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	}
	srv := &http.Server{Addr: *listen, Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.pool.Get().(*[]byte)) }
func (b *bufferPool) Put(v []byte) { b.pool.Put(&v) }
