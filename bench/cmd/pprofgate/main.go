// Command pprofgate is imagegate serve with net/http/pprof on a second loopback
// listener, for `bench/run.sh --profile` only: the measurements run the real
// cmd/imagegate binary, which has no profiling endpoint.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served on -pprof
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/server"
)

func main() {
	path := flag.String("config", "", "imagegate configuration file")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "address of net/http/pprof")
	flag.Parse()
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Println(http.ListenAndServe(*pprofAddr, nil)) }()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(ctx, cfg, server.Options{Log: logger, ConfigDir: filepath.Dir(*path)})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Run(ctx, nil); err != nil {
		log.Fatal(err)
	}
}
