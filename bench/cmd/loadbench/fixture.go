package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagegate/imagegate/authn"
	"github.com/imagegate/imagegate/bench/internal/canned"
	"github.com/imagegate/imagegate/imageapi"
)

// The token issuer of the benchmark.
const (
	issuer   = "https://issuer.bench"
	audience = "imagegate"
)

// Workload names.
const (
	wlList     = "list"
	wlGet      = "get"
	wlDownload = "download"
	wlMember   = "member"
)

var workloads = []string{wlList, wlGet, wlDownload, wlMember}

// call is one request of a workload and the answer every hop must give: the upstream's.
type call struct {
	method string
	target string
	token  string
	body   string
	status int
	want   []byte
}

// fixture is what the run serves and asks: per tenant a private image it reads and
// downloads, a shared image of its neighbour it is a pending member of, and a token;
// and 30 public images, the newest, so that every tenant's default list page is the
// same 25 public images.
type fixture struct {
	dir     string
	tenants []string
	calls   map[string][]call // workload → one call per tenant
	jwks    string            // file: the issuer's public key as a JWK Set (imagegate)
	pem     string            // file: the same key as PEM (sidecarhop)
	routes  string            // file: canned answers (cannedglance)
}

// dataSize is the size of an image download.
const dataSize = 1 << 20

// uuidOf makes a fixed-length UUID from a kind and a number.
func uuidOf(kind, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", kind, n)
}

// newFixture renders every answer with the in-memory image API (what Glance answers, in
// Glance's JSON), writes the upstream's routes file and mints the token pool.
func newFixture(dir string, tenants int) (*fixture, error) {
	f := &fixture{dir: dir, calls: map[string][]call{}}
	for i := range tenants {
		f.tenants = append(f.tenants, fmt.Sprintf("%032x", 0xbe000000+i))
	}
	api := imageapi.New(imageapi.Options{Mode: imageapi.Enforcing, RequestLogSize: -1})
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	size := int64(dataSize)
	var seeds []imageapi.SeedImage
	for i, t := range f.tenants {
		created := epoch.Add(time.Duration(i) * time.Minute)
		seeds = append(seeds,
			imageapi.SeedImage{Image: imageapi.Image{
				ID: uuidOf(1, i), Name: fmt.Sprintf("bench-own-%04d", i), Owner: t, Visibility: imageapi.VisibilityPrivate,
				Status: imageapi.StatusActive, DiskFormat: "qcow2", ContainerFormat: "bare", Size: &size,
				Checksum: fmt.Sprintf("%032x", i), OSHashAlgo: "sha512", OSHashValue: fmt.Sprintf("%0128x", i),
				Tags: []string{"bench"}, Properties: map[string]string{"os_distro": "ubuntu", "os_version": "24.04"},
				CreatedAt: created,
			}},
			imageapi.SeedImage{
				Image: imageapi.Image{
					ID: uuidOf(2, i), Name: fmt.Sprintf("bench-shared-%04d", i), Owner: f.tenants[(i+1)%tenants],
					Visibility: imageapi.VisibilityShared, Status: imageapi.StatusActive, DiskFormat: "qcow2",
					ContainerFormat: "bare", CreatedAt: created,
				},
				Members: []imageapi.SeedMember{{Tenant: t, Status: imageapi.MemberPending}},
			})
	}
	for i := range 30 {
		seeds = append(seeds, imageapi.SeedImage{Image: imageapi.Image{
			ID: uuidOf(3, i), Name: fmt.Sprintf("bench-public-%02d", i), Owner: f.tenants[i%tenants],
			Visibility: imageapi.VisibilityPublic, Status: imageapi.StatusActive, DiskFormat: "qcow2",
			ContainerFormat: "bare", Size: &size, Tags: []string{"public"},
			Properties: map[string]string{"os_distro": "debian", "os_version": "12", "architecture": "x86_64"},
			CreatedAt:  epoch.Add(time.Duration(tenants+i) * time.Minute),
		}})
	}
	if err := api.SeedImages(seeds...); err != nil {
		return nil, err
	}

	signer, err := authn.NewRSASigner("bench-1")
	if err != nil {
		return nil, err
	}
	jwks, err := signer.PublicJWKS()
	if err != nil {
		return nil, err
	}
	pem, err := signer.PublicKeyPEM()
	if err != nil {
		return nil, err
	}
	f.jwks, f.pem, f.routes = filepath.Join(dir, "jwks.json"), filepath.Join(dir, "issuer.pem"), filepath.Join(dir, "routes.json")
	if err := os.WriteFile(f.jwks, jwks, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(f.pem, pem, 0o600); err != nil {
		return nil, err
	}
	blob := make([]byte, 0, dataSize+sha256.Size)
	for block := sha256.Sum256([]byte("imagegate bench")); len(blob) < dataSize; block = sha256.Sum256(block[:]) {
		blob = append(blob, block[:]...)
	}
	blob = blob[:dataSize]
	if err := os.WriteFile(filepath.Join(dir, "image.bin"), blob, 0o600); err != nil {
		return nil, err
	}

	var set canned.Set
	render := func(method, target, tenant, roles, body string) (int, []byte) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("X-Identity-Status", "Confirmed")
		r.Header.Set("X-Project-Id", tenant)
		r.Header.Set("X-Roles", roles)
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	add := func(method, target string, status int, body []byte) {
		set.Routes = append(set.Routes, canned.Route{Method: method, Target: target, Status: status,
			ContentType: "application/json; charset=UTF-8", Body: string(body)})
	}

	now := time.Now()
	var list []byte
	for i, t := range f.tenants {
		tok, err := signer.Sign(jwt.MapClaims{
			"iss": issuer, "aud": audience, "sub": fmt.Sprintf("user-%04d", i), "project_id": t,
			"roles": []string{"member", "reader"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		})
		if err != nil {
			return nil, err
		}
		// Default list: the same 25 public images for everyone.
		st, body := render("GET", "/v2/images", t, "member,reader", "")
		if st != http.StatusOK {
			return nil, fmt.Errorf("render list: %d %s", st, body)
		}
		if list == nil {
			list = body
			add("GET", "/v2/images", st, body)
		} else if !bytes.Equal(list, body) {
			return nil, fmt.Errorf("tenant %s has another default list page", t)
		}
		f.calls[wlList] = append(f.calls[wlList], call{method: "GET", target: "/v2/images", token: tok, status: st, want: list})

		own := "/v2/images/" + uuidOf(1, i)
		st, body = render("GET", own, t, "member,reader", "")
		if st != http.StatusOK {
			return nil, fmt.Errorf("render get: %d %s", st, body)
		}
		add("GET", own, st, body)
		f.calls[wlGet] = append(f.calls[wlGet], call{method: "GET", target: own, token: tok, status: st, want: body})

		set.Routes = append(set.Routes, canned.Route{Method: "GET", Target: own + "/file", Status: http.StatusOK,
			ContentType: "application/octet-stream", BodyFile: "image.bin"})
		f.calls[wlDownload] = append(f.calls[wlDownload], call{method: "GET", target: own + "/file", token: tok, status: http.StatusOK, want: blob})

		// The shared image and the tenant's membership, as imagegate looks them up.
		shared := "/v2/images/" + uuidOf(2, i)
		member := shared + "/members/" + t
		for _, target := range []string{shared, member} {
			st, body = render("GET", target, "imagegate", "admin,member,reader", "")
			if st != http.StatusOK {
				return nil, fmt.Errorf("render %s: %d %s", target, st, body)
			}
			add("GET", target, st, body)
		}
		const accept = `{"status": "accepted"}`
		st, body = render("PUT", member, t, "member,reader", accept)
		if st != http.StatusOK {
			return nil, fmt.Errorf("render member update: %d %s", st, body)
		}
		add("PUT", member, st, body)
		f.calls[wlMember] = append(f.calls[wlMember], call{method: "PUT", target: member, token: tok, body: accept, status: st, want: body})
	}
	if err := canned.Write(f.routes, set); err != nil {
		return nil, err
	}
	return f, nil
}

// writeRequests writes a workload's calls for wrk (bench/wrk/check.lua).
func (f *fixture) writeRequests(wl string) (string, error) {
	path := filepath.Join(f.dir, "requests-"+wl+".tsv")
	var b strings.Builder
	for _, c := range f.calls[wl] {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\n", c.method, c.target, c.token, c.body)
	}
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// lengths are the body lengths of a workload's answers, for the wrk check.
func (f *fixture) lengths(wl string) string {
	seen := map[int]bool{}
	var out []string
	for _, c := range f.calls[wl] {
		if !seen[len(c.want)] {
			seen[len(c.want)] = true
			out = append(out, fmt.Sprint(len(c.want)))
		}
	}
	return strings.Join(out, ",")
}

// drain reads a body into the void, for callers that only need the status.
func drain(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, r)
	r.Close()
}
