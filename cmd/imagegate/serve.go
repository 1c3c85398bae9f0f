package main

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/server"
)

// serve runs the proxy from a configuration file and the environment.
func serve(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", os.Getenv("IMAGEGATE_CONFIG"), "configuration file (YAML); IMAGEGATE_CONFIG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	dir := ""
	if *path != "" {
		dir = filepath.Dir(*path)
	}
	srv, err := server.New(ctx, cfg, server.Options{Log: log, ConfigDir: dir})
	if err != nil {
		return err
	}
	return srv.Run(ctx, nil)
}
