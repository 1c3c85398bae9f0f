// Package canned is the file format shared by the load harness, which renders Glance
// answers once with the in-memory image API, and the static upstream that serves them
// byte for byte during the measurements.
package canned

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Route is one canned answer: the upstream answers Method Target (path and raw query,
// exactly as sent) with Status, ContentType and the body, from Body or from BodyFile (a
// file beside the routes file, shared by every route naming it).
type Route struct {
	Method      string `json:"method"`
	Target      string `json:"target"`
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	Body        string `json:"body,omitempty"`
	BodyFile    string `json:"body_file,omitempty"`
}

// Set is the routes file.
type Set struct {
	Routes []Route `json:"routes"`
}

// Write stores s as path.
func Write(path string, s Set) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

// Answer is a route ready to serve.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Load reads a routes file into answers keyed by "METHOD target".
func Load(path string) (map[string]*Answer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Set
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	files := map[string][]byte{}
	out := make(map[string]*Answer, len(s.Routes))
	for _, r := range s.Routes {
		a := &Answer{Status: r.Status, ContentType: r.ContentType, Body: []byte(r.Body)}
		if r.BodyFile != "" {
			b, ok := files[r.BodyFile]
			if !ok {
				if b, err = os.ReadFile(filepath.Join(filepath.Dir(path), filepath.Base(r.BodyFile))); err != nil {
					return nil, err
				}
				files[r.BodyFile] = b
			}
			a.Body = b
		}
		out[Key(r.Method, r.Target)] = a
	}
	return out, nil
}

// Key is the map key of a request.
func Key(method, target string) string { return method + " " + target }
