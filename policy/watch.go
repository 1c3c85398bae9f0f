package policy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"time"
)

// WatchSource polls the engine's source every interval and loads it again when its files
// changed. Polling, not inotify: Kubernetes updates ConfigMap volumes by swapping a
// symlink, which file watches miss, and a digest of a few small files is cheap. A change
// that fails to load is logged and reported; the policy in force stays.
func (e *Engine) WatchSource(ctx context.Context, interval time.Duration, log *slog.Logger) error {
	if e.source == nil {
		return fmt.Errorf("policy: engine has no source to watch")
	}
	last, _ := e.sourceDigest.Load().(string)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		d, err := digestFS(e.source.FS)
		if err != nil {
			log.Error("policy source unreadable", "source", e.source.Name, "error", err)
			continue
		}
		if d == last {
			continue
		}
		last = d
		e.sourceDigest.Store(d)
		if err := e.Reload(ctx); err != nil {
			log.Error("policy reload failed; the previous policy stays in force",
				"source", e.source.Name, "revision", e.Revision(), "error", err)
			continue
		}
		log.Info("policy reloaded", "source", e.source.Name, "revision", e.Revision())
	}
}

// digestFS hashes the names and contents of every regular file.
func digestFS(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != "." && strings.HasPrefix(d.Name(), ".") {
			// Hidden entries (a ConfigMap's ..data) are not policy files.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		f, err := fsys.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			return err
		}
		fmt.Fprintf(h, "%s\x00", path)
		_, err = io.Copy(h, f)
		return err
	})
	return fmt.Sprintf("%x", h.Sum(nil)), err
}
