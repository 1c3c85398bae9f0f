package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/imagegate/imagegate/policy"
)

// filterError is an upstream answer the proxy could not check; it is never forwarded.
type filterError struct{ err error }

func (e *filterError) Error() string { return "response obligation: " + e.err.Error() }
func (e *filterError) Unwrap() error { return e.err }

// errHidden turns a single-image answer the caller may not see into a 404.
var errHidden = errors.New("the caller may not see the image in the answer")

// modifyResponse runs after the upstream answered: timings, cache invalidation, links,
// and the policy's obligation on the body.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	r := resp.Request
	x := exchangeOf(r)
	x.upstreamTime = time.Since(x.upstreamStart)
	x.upstreamStatus = resp.StatusCode
	p.metrics.ObserveStage("upstream", x.upstreamTime)

	if id := x.op.Params["image_id"]; id != "" && r.Method != http.MethodGet {
		// Whatever the write did, the cached record may now be wrong.
		p.enricher.Invalidate(imageRef(x.op))
	}
	if invalidatesReseller(x.op, r.Method) {
		p.enricher.InvalidateReseller()
	}
	p.rewriteLocation(resp, r)
	if d := p.cfg.Limits.DataIdleTimeout.D(); d > 0 && resp.Body != nil && resp.Body != http.NoBody {
		// Streamed or read here, an answer that stalls is cut (deadlines.go).
		resp.Body = newUpstreamBody(resp.Body, d)
	}
	if x.op.Name == "versions.list" {
		// The version document links to the upstream by absolute URL (300 from "/",
		// 200 from "/versions"); point the links at the proxy.
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) {
			return bytes.ReplaceAll(body, []byte(upstreamBase(p.upstream)), []byte(clientBase(r))), nil
		})
	}

	if resp.StatusCode != http.StatusOK {
		// Errors and empty answers carry no image list; they pass as they are.
		return nil
	}
	start := time.Now()
	defer func() { p.metrics.ObserveStage("filter", time.Since(start)) }()
	switch x.decision.Filter {
	case policy.FilterImages:
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) { return p.filterImages(r, x, body) })
	case policy.FilterImage:
		if p.gcore() {
			return p.rewriteBody(resp, func(body []byte) ([]byte, error) { return p.checkGcoreImage(r, x, body) })
		}
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) { return p.checkImage(r, x, body) })
	case policy.FilterResults:
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) { return p.filterResults(r, x, body) })
	case policy.FilterMembers:
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) {
			return filterByField(body, "members", "member_id", x.principal.Tenant, &x.filtered)
		})
	case policy.FilterTasks:
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) {
			return filterByField(body, "tasks", "owner", x.principal.Tenant, &x.filtered)
		})
	case policy.FilterTask:
		return p.rewriteBody(resp, func(body []byte) ([]byte, error) {
			owner, ok, err := exactString(body, "owner")
			if err != nil || !ok {
				return nil, errors.New("task answer has no owner")
			}
			if owner != x.principal.Tenant {
				return nil, errHidden
			}
			return body, nil
		})
	}
	return nil
}

// rewriteBody reads the whole (bounded) answer, lets f rewrite it, and sets it back.
// Anything unexpected is a filterError: the unfiltered body is never forwarded.
func (p *Proxy) rewriteBody(resp *http.Response, f func([]byte) ([]byte, error)) error {
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return &filterError{fmt.Errorf("answer is %s-encoded", ce)}
	}
	body, err := readLimitedSized(resp.Body, p.cfg.Limits.MaxResponseBytes, resp.ContentLength)
	resp.Body.Close()
	if errors.Is(err, errStalled) {
		return err
	}
	if err != nil {
		return &filterError{fmt.Errorf("read answer: %w", err)}
	}
	out, err := f(body)
	if err != nil {
		if errors.Is(err, errHidden) {
			return err
		}
		return &filterError{err}
	}
	resp.Body = io.NopCloser(bytes.NewReader(out))
	resp.ContentLength = int64(len(out))
	resp.Header.Set("Content-Length", strconv.Itoa(len(out)))
	resp.Header.Del("Etag")
	return nil
}

// listedImage is what the filter reads of each list item; the item itself is passed on
// byte for byte.
type listedImage struct {
	ID         string `json:"id"`
	Owner      string `json:"owner"`
	Visibility string `json:"visibility"`
}

// maxExtraPages bounds the upstream pages one filtered list answer may read to fill a
// page the filter left short.
const maxExtraPages = 20

// filterImages keeps the items of a Glance list page the caller may see, asking the
// policy once per upstream page. When filtering leaves the page short and the upstream
// has more, it reads further upstream pages (at most maxExtraPages) to fill it: a client
// pager takes a short or empty page for the end of the list.
func (p *Proxy) filterImages(r *http.Request, x *exchange, body []byte) ([]byte, error) {
	original := body
	page, raws, items, err := p.parseImagePage(r, x, body)
	if err != nil {
		return nil, err
	}
	fetched := false
	limit := pageLimit(x.query)
	kept := make([]json.RawMessage, 0, min(len(raws), limit))
	var next, lastExamined string
	lastHidden := false
	nextRaw := page["next"]
	for extra := 0; ; extra++ {
		visible, err := p.policy.VisibleIDs(r.Context(), p.input(r, x), items)
		if err != nil {
			return nil, err
		}
		i := 0
		for ; i < len(raws) && len(kept) < limit; i++ {
			lastExamined = items[i].ID
			lastHidden = !visible[lastExamined]
			if lastHidden {
				x.filtered++
			} else {
				kept = append(kept, raws[i])
			}
		}
		next, err = nextLink(nextRaw)
		if err != nil {
			return nil, err
		}
		stoppedEarly := i < len(raws)
		if stoppedEarly || len(kept) >= limit || next == "" || extra >= maxExtraPages {
			if stoppedEarly && next == "" {
				// The upstream had more on this page than fits: continue after the last
				// item examined.
				next = "more"
			}
			break
		}
		body, err := p.fetchUpstreamPage(r, next)
		if err != nil {
			return nil, err
		}
		fetched = true
		var more map[string]json.RawMessage
		if more, raws, items, err = p.parseImagePage(r, x, body); err != nil {
			return nil, err
		}
		nextRaw = more["next"]
	}
	p.metrics.FilteredItems.Add(float64(x.filtered))
	if x.filtered == 0 && !fetched && len(kept) == len(raws) {
		return original, nil
	}
	keptJSON, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	page["images"] = keptJSON
	delete(page, "next")
	if next != "" && lastExamined != "" {
		marker := lastExamined
		if lastHidden {
			// The caller may not see the last item examined and so could not name it as a
			// marker: seal it for this caller.
			marker = p.sealer.seal(x.principal.Tenant, lastExamined)
		}
		q := url.Values{}
		for k, v := range x.query {
			q[k] = v
		}
		q.Set("marker", marker)
		link, err := json.Marshal(r.URL.Path + "?" + q.Encode())
		if err != nil {
			return nil, err
		}
		page["next"] = link
	}
	return json.Marshal(page)
}

// parseImagePage reads a Glance list page: the page object, its items as raw JSON (passed
// on byte for byte) and the filter's view of each, memberships included.
func (p *Proxy) parseImagePage(r *http.Request, x *exchange, body []byte) (map[string]json.RawMessage, []json.RawMessage, []policy.Item, error) {
	page, raws, items, err := readImagePage(body)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.addMemberships(r.Context(), x, items); err != nil {
		return nil, nil, nil, err
	}
	return page, raws, items, nil
}

// readImagePage reads a list page as encoding/json and readListedImage would, at a
// fraction of the cost: the page is checked to be JSON in the pass that splits it
// (jsonscan.go), its items are scanned with the scanner of gcore.go (keys by their exact
// names, the last of a repeated key wins); the page's members and items are slices of
// body, and nothing but an item's id, owner and visibility is decoded.
func readImagePage(body []byte) (map[string]json.RawMessage, []json.RawMessage, []policy.Item, error) {
	page := map[string]json.RawMessage{}
	raws, err := validObjectFields(body, "images", func(key []byte, start, end int) { page[decodedKey(string(key))] = body[start:end] })
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list answer is not a JSON object: %w", err)
	}
	images, found := page["images"]
	if found && string(images) != "null" && raws == nil {
		found = false // not an array
	}
	if !found {
		return nil, nil, nil, errors.New(`list answer has no "images" array`)
	}
	items := make([]policy.Item, len(raws))
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		li, err := scanListedImage(raw)
		if err != nil || li.ID == "" || li.Visibility == "" {
			return nil, nil, nil, fmt.Errorf("list item %d is not an image record", i)
		}
		// The policy answers visibility by id: a second item with a visible item's id
		// would ride on it. Ids are unique upstream, so a page that repeats one is broken.
		if seen[li.ID] {
			return nil, nil, nil, fmt.Errorf("list item %d repeats the id of an earlier item", i)
		}
		seen[li.ID] = true
		items[i] = policy.Item{ID: li.ID, Owner: li.Owner, Visibility: li.Visibility}
	}
	return page, raws, items, nil
}

// readImageRecord is readListedImage for a whole answer: checked to be JSON, then
// scanned.
func readImageRecord(body []byte) (listedImage, error) {
	if !json.Valid(body) {
		return listedImage{}, errNotJSON
	}
	return scanListedImage(body)
}

// scanListedImage is readListedImage for an item of a page already checked to be JSON:
// the record's members are scanned, not decoded, and only the three values read are.
func scanListedImage(raw []byte) (listedImage, error) {
	var id, owner, visibility []byte
	if err := objectFields(raw, func(key []byte, start, end int) {
		switch string(key) {
		case "id":
			id = raw[start:end]
		case "owner":
			owner = raw[start:end]
		case "visibility":
			visibility = raw[start:end]
		}
	}); err != nil {
		return listedImage{}, err
	}
	var li listedImage
	for _, f := range []struct {
		name string
		raw  []byte
		dst  *string
	}{{"id", id, &li.ID}, {"owner", owner, &li.Owner}, {"visibility", visibility, &li.Visibility}} {
		if f.raw == nil || string(f.raw) == "null" {
			continue
		}
		if err := stringValue(f.raw, f.dst); err != nil {
			return listedImage{}, fmt.Errorf("%s is not a string", f.name)
		}
	}
	return li, nil
}

// decodedKey is a key as encoding/json decodes it: each byte that is not UTF-8 becomes
// U+FFFD.
func decodedKey(key string) string {
	if utf8.ValidString(key) {
		return key
	}
	var b strings.Builder
	for _, r := range key {
		b.WriteRune(r)
	}
	return b.String()
}

// stringValue decodes a JSON string as encoding/json does: one of printable ASCII without
// escapes is the bytes between its quotes; any other is left to encoding/json.
func stringValue(raw []byte, dst *string) error {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		plain := true
		for _, c := range raw[1 : len(raw)-1] {
			if c < 0x20 || c > 0x7e || c == '\\' || c == '"' {
				plain = false
				break
			}
		}
		if plain {
			*dst = string(raw[1 : len(raw)-1])
			return nil
		}
	}
	return json.Unmarshal(raw, dst)
}

// pageLimit is the page size the caller asked for, as Glance reads it (default 25,
// at most 1000).
func pageLimit(q url.Values) int {
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n <= 0 {
		return 25
	}
	return min(n, 1000)
}

// nextLink reads a page's next link; "" when there is none.
func nextLink(raw json.RawMessage) (string, error) {
	if raw == nil || string(raw) == "null" {
		return "", nil
	}
	var link string
	if err := json.Unmarshal(raw, &link); err != nil {
		return "", fmt.Errorf("next link is not a string: %w", err)
	}
	return link, nil
}

// fetchUpstreamPage GETs a next link from the upstream with the identity of the
// forwarded request.
func (p *Proxy) fetchUpstreamPage(out *http.Request, link string) ([]byte, error) {
	ref, err := url.Parse(link)
	if err != nil || ref.IsAbs() || ref.Host != "" || !strings.HasPrefix(ref.Path, "/v2/images") {
		return nil, fmt.Errorf("next link %q is not a list link of the upstream", link)
	}
	u := *p.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + ref.Path
	u.RawPath = ""
	u.RawQuery = ref.RawQuery
	req, err := http.NewRequestWithContext(out.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header = out.Header.Clone()
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("next page: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("next page: upstream answered %d", resp.StatusCode)
	}
	return readLimitedSized(resp.Body, p.cfg.Limits.MaxResponseBytes, resp.ContentLength)
}

// addMemberships fills in the caller's membership status of the shared images it does
// not own, looked up in parallel (bounded) through the enrichment cache.
func (p *Proxy) addMemberships(ctx context.Context, x *exchange, items []policy.Item) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(p.cfg.Enrich.Concurrency)
	for i := range items {
		it := &items[i]
		if it.Visibility != "shared" || it.Owner == x.principal.Tenant {
			continue
		}
		g.Go(func() error {
			m, err := p.enricher.Membership(ctx, it.ID, x.principal.Tenant)
			if err != nil {
				return err
			}
			if m != nil {
				it.MemberStatus = m.Status
			}
			return nil
		})
	}
	return g.Wait()
}

// checkImage makes sure a single-image answer is the image decided on and one the
// caller may see; otherwise the caller gets a 404.
func (p *Proxy) checkImage(r *http.Request, x *exchange, body []byte) ([]byte, error) {
	li, err := readImageRecord(body)
	if err != nil || li.ID == "" || li.Visibility == "" {
		return nil, errors.New("image answer is not an image record")
	}
	if li.ID != x.op.Params["image_id"] {
		return nil, fmt.Errorf("upstream answered image %q for %q", li.ID, x.op.Params["image_id"])
	}
	item := policy.Item{ID: li.ID, Owner: li.Owner, Visibility: li.Visibility}
	if x.member != nil {
		item.MemberStatus = x.member.Status
	}
	if err := p.checkVisible(r, p.markerInput(r, x), item); err != nil {
		return nil, err
	}
	return body, nil
}

// checkVisible is errHidden unless the policy lets the caller see item (as a one-item
// list page under in).
func (p *Proxy) checkVisible(r *http.Request, in *policy.Input, item policy.Item) error {
	visible, err := p.policy.VisibleIDs(r.Context(), in, []policy.Item{item})
	if err != nil {
		return err
	}
	if !visible[item.ID] {
		return errHidden
	}
	return nil
}

// filterByField keeps the entries of body[listKey] whose field equals want.
func filterByField(body []byte, listKey, field, want string, filtered *int) ([]byte, error) {
	var page map[string]json.RawMessage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("list answer is not a JSON object: %w", err)
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(page[listKey], &entries); err != nil || page[listKey] == nil {
		return nil, fmt.Errorf("list answer has no %q array", listKey)
	}
	kept := entries[:0]
	for _, e := range entries {
		var v string
		if err := json.Unmarshal(e[field], &v); err == nil && v == want {
			kept = append(kept, e)
		}
	}
	*filtered = len(entries) - len(kept)
	if *filtered == 0 {
		return body, nil
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	page[listKey] = raw
	return json.Marshal(page)
}

// rewriteLocation points Location headers that name the upstream at the proxy instead.
func (p *Proxy) rewriteLocation(resp *http.Response, r *http.Request) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	if base := upstreamBase(p.upstream); strings.HasPrefix(loc, base) {
		resp.Header.Set("Location", clientBase(r)+strings.TrimPrefix(loc, base))
	}
}

func upstreamBase(u *url.URL) string { return u.Scheme + "://" + u.Host }

// clientBase is the scheme and host the client used to reach the proxy.
func clientBase(r *http.Request) string {
	x := exchangeOf(r)
	scheme := "http"
	if x != nil && x.tls {
		scheme = "https"
	}
	host := r.Host
	if x != nil && x.clientHost != "" {
		host = x.clientHost
	}
	return scheme + "://" + host
}

// slogErrorLog routes ReverseProxy's own error log into the structured log.
func slogErrorLog(l *slog.Logger) *log.Logger {
	return slog.NewLogLogger(l.Handler(), slog.LevelWarn)
}
