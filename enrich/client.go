// Package enrich fetches from the upstream what a decision needs and the request lacks:
// the image record and the caller's membership of it (Glance v2), the image record and
// the caller's reseller limits and shared images (Gcore-style v1). Lookups use the proxy's service
// identity, one HTTP client with timeouts, a short-TTL cache invalidated by writes that
// pass through the proxy, and singleflight, so a burst of requests on one image costs one
// upstream call.
package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"
)

// Membership is a tenant's membership of an image.
type Membership struct {
	MemberID string
	Status   string
}

// Observer is told about cache hits and misses; nil-safe.
type Observer interface {
	CacheLookup(kind string, hit bool)
}

// Options configure a Client.
type Options struct {
	// Dialect is the upstream's API: glance (the default) or gcore.
	Dialect string
	// Upstream is the image API's base URL.
	Upstream *url.URL
	// HTTPClient makes the lookups; its Timeout should be set.
	HTTPClient *http.Client
	// Headers identify the proxy to the upstream (the service identity).
	Headers http.Header
	// TTL is how long a record is reused; 0 disables caching.
	TTL time.Duration
	// MaxEntries bounds the cache (images, each with its memberships).
	MaxEntries int
	// Timeout bounds one lookup, also when callers share it through singleflight.
	Timeout time.Duration
	// MaxBodyBytes bounds an upstream answer.
	MaxBodyBytes int64
	// ResellerTTL is how long looked-up reseller limits and shared images are reused;
	// 0 disables caching.
	ResellerTTL time.Duration
	// Now is the clock; time.Now when nil.
	Now      func() time.Time
	Observer Observer
}

// Client looks up image records and memberships. Safe for concurrent use.
type Client struct {
	opts      Options
	cache     *cache
	resellers resellerCache
	group     singleflight.Group
}

// ImageRef names an image to look up: its id and, in the gcore dialect, the project and
// region of the path it was reached by (v1 paths name both). Records are cached per id
// and region.
type ImageRef struct {
	ID, Project, Region string
}

// key is the cache key of the image: its id, and its region when there is one.
func (r ImageRef) key() string {
	if r.Region == "" {
		return r.ID
	}
	return r.ID + "\x00" + r.Region
}

// gcore reports whether the client speaks the Gcore-style v1 dialect.
func (c *Client) gcore() bool { return c.opts.Dialect == "gcore" }

// ErrUpstream marks a lookup that failed for a reason other than "not found"; the caller
// must deny the request rather than decide without the facts.
var ErrUpstream = errors.New("enrichment lookup failed")

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.Upstream == nil || opts.HTTPClient == nil {
		return nil, errors.New("enrich: upstream and HTTP client are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	switch opts.Dialect {
	case "", "glance", "gcore":
	default:
		return nil, fmt.Errorf("enrich: unknown dialect %q", opts.Dialect)
	}
	c := &Client{opts: opts, cache: newCache(opts.MaxEntries, opts.TTL, opts.Now)}
	c.resellers = resellerCache{ttl: opts.ResellerTTL, max: opts.MaxEntries, now: opts.Now}
	return c, nil
}

// Image returns the upstream's record of the image, or nil when it does not exist.
func (c *Client) Image(ctx context.Context, ref ImageRef) (map[string]any, error) {
	key := ref.key()
	if img, ok := c.cache.image(key); ok {
		c.observe("image", true)
		return img, nil
	}
	c.observe("image", false)
	v, err, _ := c.group.Do("i\x00"+key, func() (any, error) {
		gen := c.cache.generation()
		path := "/v2/images/" + url.PathEscape(ref.ID)
		check := checkImage
		if c.gcore() {
			path = "/v1/images/" + url.PathEscape(ref.Project) + "/" + url.PathEscape(ref.Region) + "/" + url.PathEscape(ref.ID)
			check = checkGcoreImage
		}
		var img map[string]any
		found, err := c.getJSON(ctx, path, &img)
		if err != nil {
			return nil, err
		}
		if !found {
			img = nil
		} else if err := check(img, ref.ID); err != nil {
			return nil, err
		}
		c.cache.putImage(gen, key, img)
		return img, nil
	})
	if err != nil {
		return nil, err
	}
	img, _ := v.(map[string]any)
	return img, nil
}

// checkImage refuses a record whose shape the policy could misread: a record that names
// another image, or lacks an owner or visibility.
func checkImage(img map[string]any, id string) error {
	if got, _ := img["id"].(string); got != id {
		return fmt.Errorf("%w: upstream answered image %q for %q", ErrUpstream, got, id)
	}
	if _, ok := img["visibility"].(string); !ok {
		return fmt.Errorf("%w: image %s has no visibility", ErrUpstream, id)
	}
	switch img["owner"].(type) {
	case string, nil:
	default:
		return fmt.Errorf("%w: image %s has an owner of type %T", ErrUpstream, id, img["owner"])
	}
	return nil
}

// checkGcoreImage refuses a v1 record the policy could misread: one that names another
// image, or lacks a visibility or a region, or whose project or region is no id.
func checkGcoreImage(img map[string]any, id string) error {
	if got, _ := img["id"].(string); got != id {
		return fmt.Errorf("%w: upstream answered image %q for %q", ErrUpstream, got, id)
	}
	if _, ok := img["visibility"].(string); !ok {
		return fmt.Errorf("%w: image %s has no visibility", ErrUpstream, id)
	}
	if _, ok := idString(img["region_id"]); !ok {
		return fmt.Errorf("%w: image %s has no region_id", ErrUpstream, id)
	}
	if p, ok := img["project_id"]; ok && p != nil {
		if _, ok := idString(p); !ok {
			return fmt.Errorf("%w: image %s has a project_id of type %T", ErrUpstream, id, p)
		}
	}
	return nil
}

// Membership returns tenant's membership of image, or nil when tenant is no member.
func (c *Client) Membership(ctx context.Context, imageID, tenant string) (*Membership, error) {
	if m, ok := c.cache.membership(imageID, tenant); ok {
		c.observe("membership", true)
		return m, nil
	}
	c.observe("membership", false)
	v, err, _ := c.group.Do("m\x00"+imageID+"\x00"+tenant, func() (any, error) {
		gen := c.cache.generation()
		var rec struct {
			MemberID string `json:"member_id"`
			Status   string `json:"status"`
		}
		found, err := c.getJSON(ctx, "/v2/images/"+url.PathEscape(imageID)+"/members/"+url.PathEscape(tenant), &rec)
		if err != nil {
			return nil, err
		}
		var m *Membership
		if found {
			if rec.MemberID != tenant {
				return nil, fmt.Errorf("%w: upstream answered member %q for %q", ErrUpstream, rec.MemberID, tenant)
			}
			m = &Membership{MemberID: rec.MemberID, Status: rec.Status}
		}
		c.cache.putMembership(gen, imageID, tenant, m)
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	m, _ := v.(*Membership)
	return m, nil
}

// Invalidate forgets what is cached about an image; the proxy calls it for every write
// to the image that passes through it.
func (c *Client) Invalidate(ref ImageRef) { c.cache.forget(ref.key()) }

func (c *Client) observe(kind string, hit bool) {
	if c.opts.Observer != nil {
		c.opts.Observer.CacheLookup(kind, hit)
	}
}

// getJSON GETs path from the upstream. found is false on 404; any other non-200 answer,
// a timeout or a body that is not JSON is an ErrUpstream.
func (c *Client) getJSON(ctx context.Context, path string, into any) (found bool, err error) {
	// A lookup shared through singleflight must not fail for every waiter because the first
	// caller went away, so it runs on its own deadline.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	u := *c.opts.Upstream
	path, u.RawQuery, _ = strings.Cut(path, "?")
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrUpstream, err)
	}
	for k, vs := range c.opts.Headers {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("%w: GET %s: %v", ErrUpstream, path, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, nil
	default:
		return false, fmt.Errorf("%w: GET %s: upstream answered %d", ErrUpstream, path, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		return false, fmt.Errorf("%w: GET %s: %v", ErrUpstream, path, err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return false, fmt.Errorf("%w: GET %s: answer over %d bytes", ErrUpstream, path, c.opts.MaxBodyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if c.gcore() {
		// v1 ids are numbers: keep their digits exact.
		dec.UseNumber()
	}
	if err := dec.Decode(into); err != nil {
		return false, fmt.Errorf("%w: GET %s: %v", ErrUpstream, path, err)
	}
	// One document and nothing after it, as json.Unmarshal would insist: an answer with
	// more is not one the policy may decide on.
	if _, err := dec.Token(); err != io.EOF {
		return false, fmt.Errorf("%w: GET %s: data after the JSON answer", ErrUpstream, path)
	}
	return true, nil
}
