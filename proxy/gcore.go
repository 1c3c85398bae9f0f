package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/enrich"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/route"
)

// The Gcore-style v1 dialect (docs/gcore.md): images scoped by project and region in the
// path, v1 list pages {"count", "results"}, and reseller limits looked up per caller.

// gcore reports whether the proxy serves the Gcore-style v1 dialect.
func (p *Proxy) gcore() bool { return p.cfg.Dialect == config.DialectGcore }

// imageRef names the image an operation touches, for lookups and invalidation.
func imageRef(op route.Operation) enrich.ImageRef {
	return enrich.ImageRef{ID: op.Params["image_id"], Project: op.Params["project_id"], Region: op.Params["region_id"]}
}

// needsReseller reports whether the decision on op reads the caller's reseller limits
// and shared images: lists and anything under one image.
func needsReseller(op route.Operation) bool {
	return op.Name == "images.list" || op.Params["image_id"] != ""
}

// wantsReseller reports whether the decision on this request reads reseller limits
// looked up on the upstream (reseller.source upstream).
func (p *Proxy) wantsReseller(x *exchange) bool {
	return p.cfg.Reseller.Source == config.ResellerFromUpstream && needsReseller(x.op)
}

// lookupReseller fetches, with reseller.source upstream, the limits and shared images that
// concern the caller; nil when they come from policy data instead.
func (p *Proxy) lookupReseller(ctx context.Context, x *exchange) (map[string]any, error) {
	if !p.wantsReseller(x) {
		return nil, nil
	}
	pr := x.principal
	return p.enricher.Reseller(ctx, pr.Reseller, pr.Client, pr.Tenant)
}

// invalidatesReseller reports whether a call may change reseller limits or shared images.
func invalidatesReseller(op route.Operation, method string) bool {
	if method == http.MethodGet {
		return false
	}
	switch op.Name {
	case "reseller_image.set", "reseller_image.delete", "shared_image.set", "shared_image.delete":
		return true
	}
	return false
}

// filterResults keeps the items of a v1 list page ({"count", "results"}) the caller may
// see, asking the policy once for the page, and lowers count by the items it removed.
// Everything else of the page passes as it is. The v1 list has no next link to follow, so
// a page is filtered alone; with the newer API's limit and offset, count is the upstream's
// total less what this page hid (docs/gcore.md).
func (p *Proxy) filterResults(r *http.Request, x *exchange, body []byte) ([]byte, error) {
	// Where the results and count values stand in body, to splice the answer together.
	var results, count span
	raws, err := validObjectFields(body, "results", func(key []byte, start, end int) {
		switch string(key) {
		case "results":
			results = span{start, end}
		case "count":
			count = span{start, end}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list answer is not a JSON object: %w", err)
	}
	if raws == nil || results.end == 0 {
		return nil, errors.New(`list answer has no "results" array`)
	}
	items := make([]policy.Item, len(raws))
	seen := make(map[string]bool, len(raws))
	for i, raw := range raws {
		it, err := readGcoreImage(raw)
		if err != nil {
			return nil, fmt.Errorf("list item %d is not an image record: %w", i, err)
		}
		// The policy answers by id: a second item with a visible item's id would ride on it.
		if seen[it.ID] {
			return nil, fmt.Errorf("list item %d repeats the id of an earlier item", i)
		}
		seen[it.ID] = true
		items[i] = it
	}
	visible, err := p.policy.VisibleIDs(r.Context(), p.input(r, x), items)
	if err != nil {
		return nil, err
	}
	kept := make([]json.RawMessage, 0, len(raws))
	for i, raw := range raws {
		if visible[items[i].ID] {
			kept = append(kept, raw)
		}
	}
	x.filtered = len(raws) - len(kept)
	p.metrics.FilteredItems.Add(float64(x.filtered))
	if x.filtered == 0 {
		return body, nil
	}
	// The answer is the upstream's, byte for byte, but for the results array and count.
	keptJSON := make([]byte, 0, len(body))
	keptJSON = append(keptJSON, '[')
	for i, raw := range kept {
		if i > 0 {
			keptJSON = append(keptJSON, ',')
		}
		keptJSON = append(keptJSON, raw...)
	}
	keptJSON = append(keptJSON, ']')
	edits := []splice{{results, keptJSON}}
	if c := body[count.start:count.end]; count.end > 0 && !bytes.Equal(c, []byte("null")) {
		n, err := strconv.Atoi(string(c))
		if err != nil {
			return nil, errors.New("list answer's count is not a whole number")
		}
		edits = append(edits, splice{count, strconv.AppendInt(nil, int64(max(n-x.filtered, len(kept))), 10)})
	}
	return applySplices(body, edits), nil
}

// span is a range of bytes of an answer; splice replaces one with new bytes.
type span struct{ start, end int }

type splice struct {
	at   span
	with []byte
}

// applySplices returns body with the (non-overlapping) edits applied.
func applySplices(body []byte, edits []splice) []byte {
	slices.SortFunc(edits, func(a, b splice) int { return a.at.start - b.at.start })
	out := make([]byte, 0, len(body))
	last := 0
	for _, e := range edits {
		out = append(out, body[last:e.at.start]...)
		out = append(out, e.with...)
		last = e.at.end
	}
	return append(out, body[last:]...)
}

// checkGcoreImage makes sure a v1 single-image answer is the image decided on, in the
// path's region, and one the caller may see; otherwise the caller gets a 404.
func (p *Proxy) checkGcoreImage(r *http.Request, x *exchange, body []byte) ([]byte, error) {
	if !json.Valid(body) {
		return nil, errors.New("image answer is not JSON")
	}
	it, err := readGcoreImage(body)
	if err != nil {
		return nil, fmt.Errorf("image answer is not an image record: %w", err)
	}
	if it.ID != x.op.Params["image_id"] {
		return nil, fmt.Errorf("upstream answered image %q for %q", it.ID, x.op.Params["image_id"])
	}
	if err := p.checkVisible(r, p.input(r, x), it); err != nil {
		return nil, err
	}
	return body, nil
}

// readGcoreImage reads what the list filter needs of a v1 image record (valid JSON), by
// the exact field names (see fields.go): id and visibility (strings), project_id and
// region_id (numbers or decimal strings; project_id may be null for images of no project).
func readGcoreImage(raw []byte) (policy.Item, error) {
	var id, visibility, project, region []byte
	err := objectFields(raw, func(key []byte, start, end int) {
		val := raw[start:end]
		switch string(key) {
		case "id":
			id = val
		case "visibility":
			visibility = val
		case "project_id":
			project = val
		case "region_id":
			region = val
		}
	})
	if err != nil {
		return policy.Item{}, err
	}
	// Strings are decoded as encoding/json decodes them (invalid UTF-8 becomes U+FFFD), as
	// the Glance reader does: the id the filter judges is the id every client reads.
	var it policy.Item
	if err := stringValue(id, &it.ID); err != nil || it.ID == "" {
		return policy.Item{}, errors.New("no id")
	}
	if err := stringValue(visibility, &it.Visibility); err != nil || it.Visibility == "" {
		return policy.Item{}, errors.New("no visibility")
	}
	if it.Owner, err = rawID(project, "project_id"); err != nil {
		return policy.Item{}, err
	}
	if it.Region, err = rawID(region, "region_id"); err != nil || it.Region == "" {
		return policy.Item{}, errors.New("no region_id")
	}
	return it, nil
}

// rawID reads an id that is a non-negative integer or a decimal string as a string;
// absent (nil) or null is "".
func rawID(raw []byte, name string) (string, error) {
	if raw == nil || string(raw) == "null" {
		return "", nil
	}
	s := string(raw)
	if raw[0] == '"' {
		var err error
		if s, err = unquote(raw); err != nil {
			return "", fmt.Errorf("%s is not an id", name)
		}
	}
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		return "", fmt.Errorf("%s is not an id", name)
	}
	return s, nil
}

// Reading v1 list pages fast. A page of 1,000 images is checked to be JSON in the pass
// that splits it (validObjectFields); each item is scanned for the four fields the
// filter needs, by their exact names, without building a map of all its fields.

// errNotJSON is a page or item whose structure the scanner cannot follow.
var errNotJSON = errors.New("not a JSON value")

// objectFields calls f with the key (unquoted) and the position of the raw value of each
// member of the JSON object raw, which must be valid JSON. A key repeated is seen each
// time (the last wins for the caller, as for encoding/json and most clients). The key is
// handed over as bytes, valid only during the call: a record's keys are only compared,
// and making a string of each was most of what scanning a page allocated.
func objectFields(raw []byte, f func(key []byte, start, end int)) error {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errNotJSON
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil
	}
	for i < len(raw) {
		end, err := skipValue(raw, i)
		if err != nil || raw[i] != '"' {
			return errNotJSON
		}
		key, err := unquoteBytes(raw[i:end])
		if err != nil {
			return err
		}
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errNotJSON
		}
		i = skipSpace(raw, i+1)
		if end, err = skipValue(raw, i); err != nil {
			return err
		}
		f(key, i, end)
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == '}' {
			return nil
		}
		return errNotJSON
	}
	return errNotJSON
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errNotJSON
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errNotJSON
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, errNotJSON
	}
	return j, nil
}

// skipString returns the index just after the JSON string starting at b[i]: after the
// first quote that is not escaped, that is not preceded by an odd run of backslashes
// inside the string.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			break
		}
		q += j
		backslashes := 0
		for k := q - 1; k > i && b[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return q + 1, nil
		}
		j = q + 1
	}
	return 0, errNotJSON
}

// unquoteBytes is unquote without a copy when the string has no escapes: the bytes
// between the quotes.
func unquoteBytes(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return nil, errNotJSON
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	s, err := unquote(raw)
	return []byte(s), err
}

// unquote returns the string of a raw JSON string, without allocating a copy's copy
// when it has no escapes.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errNotJSON
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}
