package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Reseller image limits and shared images (DESIGN.md §4, docs/gcore.md).
//
// The policy reads them in one shape, whether they come from a data file or from the
// upstream (policies/reseller.rego):
//
//	"limits": {reseller id: {region id: null | [image id, ...]}},
//	"shared": {"reseller" | "client" | "project": {entity id: {region id: [image id, ...]}}}
//
// The rows they are made of have the shape of the v1 API's reseller_image and
// shared_image records, with ids as numbers (or decimal strings).

// EntityTypes are the kinds of entity an image is shared with.
var EntityTypes = []string{"reseller", "client", "project"}

// ResellerDocument builds the policy's document from reseller_image rows (limits) and
// shared_image rows (shared). Every problem names its row: where[i].field.
func ResellerDocument(limitRows, sharedRows []any, limitsWhere, sharedWhere string) (map[string]any, error) {
	limits := map[string]any{}
	for i, row := range limitRows {
		at := fmt.Sprintf("%s[%d]", limitsWhere, i)
		fields, err := rowFields(row, at, "reseller_id", "region_id", "image_ids")
		if err != nil {
			return nil, err
		}
		if err := putRow(limits, fields, at, "reseller", "reseller_id", false); err != nil {
			return nil, err
		}
	}
	shared := map[string]any{}
	for _, kind := range EntityTypes {
		shared[kind] = map[string]any{}
	}
	for i, row := range sharedRows {
		at := fmt.Sprintf("%s[%d]", sharedWhere, i)
		fields, err := rowFields(row, at, "entity_type", "entity_id", "region_id", "image_ids")
		if err != nil {
			return nil, err
		}
		kind, _ := fields["entity_type"].(string)
		entities, ok := shared[kind].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.entity_type: want one of reseller, client, project, got %v", at, fields["entity_type"])
		}
		// Nothing shared: null and [] mean the same for a shared_image row.
		if err := putRow(entities, fields, at, kind, "entity_id", true); err != nil {
			return nil, err
		}
	}
	return map[string]any{"limits": limits, "shared": shared}, nil
}

// putRow stores a row's image_ids in tree[id][region], id being the row's idField (null
// as [] when nullIsEmpty); a second row for the same id and region is an error. The row
// itself is not changed: rows looked up on the upstream are cached and shared.
func putRow(tree, fields map[string]any, at, what, idField string, nullIsEmpty bool) error {
	id, err := rowID(fields, at, idField)
	if err != nil {
		return err
	}
	region, err := rowID(fields, at, "region_id")
	if err != nil {
		return err
	}
	ids, err := rowImageIDs(fields, at)
	if err != nil {
		return err
	}
	regions, _ := tree[id].(map[string]any)
	if regions == nil {
		regions = map[string]any{}
		tree[id] = regions
	}
	if _, dup := regions[region]; dup {
		return fmt.Errorf("%s: a second row for %s %s in region %s", at, what, id, region)
	}
	switch {
	case ids == nil && nullIsEmpty:
		regions[region] = []any{}
	case ids == nil:
		// image_ids null: every public image. An untyped nil, so that the policy reads
		// null, not [].
		regions[region] = nil
	default:
		regions[region] = ids
	}
	return nil
}

// rowFields checks that row is an object with only the allowed fields, region_id and
// image_ids among them.
func rowFields(row any, at string, allowed ...string) (map[string]any, error) {
	fields, ok := row.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an object, got %s", at, typeName(row))
	}
	for k := range fields {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			return nil, fmt.Errorf("%s: unknown field %q", at, k)
		}
	}
	for _, required := range []string{"region_id", "image_ids"} {
		if _, ok := fields[required]; !ok {
			return nil, fmt.Errorf("%s.%s: missing", at, required)
		}
	}
	return fields, nil
}

// rowID reads an integer id (a number or a decimal string) as a decimal string.
func rowID(fields map[string]any, at, name string) (string, error) {
	v, ok := fields[name]
	if !ok {
		return "", fmt.Errorf("%s.%s: missing", at, name)
	}
	if s, ok := idString(v); ok {
		return s, nil
	}
	return "", fmt.Errorf("%s.%s: want an integer id, got %s", at, name, typeName(v))
}

// rowImageIDs reads image_ids: nil for null, else the ids as []any of strings.
func rowImageIDs(fields map[string]any, at string) ([]any, error) {
	v := fields["image_ids"]
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.image_ids: want null or a list of image ids, got %s", at, typeName(v))
	}
	ids := make([]any, len(list))
	for i, id := range list {
		s, ok := id.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s.image_ids[%d]: want an image id (a string), got %s", at, i, typeName(id))
		}
		ids[i] = s
	}
	return ids, nil
}

// idString reads a non-negative integer id of any numeric type, or a decimal string.
func idString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		if x == "" || len(x) > 20 {
			return "", false
		}
		for i := 0; i < len(x); i++ {
			if x[i] < '0' || x[i] > '9' {
				return "", false
			}
		}
		return x, true
	case int:
		return strconv.Itoa(x), x >= 0
	case int64:
		return strconv.FormatInt(x, 10), x >= 0
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		if x < 0 || x != math.Trunc(x) || x > 1<<53 {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', 0, 64), true
	case json.Number:
		if n, err := strconv.ParseUint(x.String(), 10, 64); err == nil {
			return strconv.FormatUint(n, 10), true
		}
	}
	return "", false
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	default:
		return fmt.Sprintf("%v", v)
	}
}

// LoadResellerFile reads a file of limit and shared-image rows (JSON or YAML):
//
//	reseller_image: [{reseller_id: 1001, region_id: 1, image_ids: null | [ids]}]
//	shared_image:   [{entity_type: reseller | client | project, entity_id: 1001, region_id: 1, image_ids: [ids]}]
//
// and returns them as policy data, rooted at OPA's data: imagegate.reseller.limits and
// .shared. Errors name the file and the row.
func LoadResellerFile(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reseller.file: %w", err)
	}
	var doc any
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("reseller.file %s: %w", path, err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reseller.file %s: want an object with reseller_image and shared_image lists", path)
	}
	var limits, shared []any
	for k, v := range top {
		list, ok := v.([]any)
		if !ok && v != nil {
			return nil, fmt.Errorf("reseller.file %s: %s: want a list of rows", path, k)
		}
		switch k {
		case "reseller_image":
			limits = list
		case "shared_image":
			shared = list
		default:
			return nil, fmt.Errorf("reseller.file %s: unknown key %q (want reseller_image, shared_image)", path, k)
		}
	}
	resellerDoc, err := ResellerDocument(limits, shared, "reseller_image", "shared_image")
	if err != nil {
		return nil, fmt.Errorf("reseller.file %s: %w", path, err)
	}
	return map[string]any{"imagegate": map[string]any{"reseller": resellerDoc}}, nil
}

// ----------------------------------------------------------------------------------------
// Looked up on the upstream (reseller.source upstream, gcore dialect)

// resellerCache holds the rows looked up per entity ("limits/R", "shared/client/C"),
// forgotten all at once when a write to reseller_image or shared_image passes through the
// proxy: such writes are rare, and any of them may change what any caller sees.
type resellerCache struct {
	mu  sync.Mutex
	ttl time.Duration
	// max bounds the entries (as Options.MaxEntries bounds the image cache): every
	// caller's client and project is a key.
	max     int
	now     func() time.Time
	gen     uint64
	entries map[string]resellerEntry
}

type resellerEntry struct {
	rows []any
	exp  time.Time
}

func (c *resellerCache) get(key string) ([]any, bool) {
	if c.ttl <= 0 || c.max <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.exp) {
		return nil, false
	}
	return e.rows, true
}

func (c *resellerCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func (c *resellerCache) put(gen uint64, key string, rows []any) {
	if c.ttl <= 0 || c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil {
		c.entries = map[string]resellerEntry{}
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		c.evict()
	}
	c.entries[key] = resellerEntry{rows: rows, exp: c.now().Add(c.ttl)}
}

// evict drops the expired entries, and if none had expired, one at random (Go's map
// order): it runs only when the cache is full.
func (c *resellerCache) evict() {
	now := c.now()
	for k, e := range c.entries {
		if !now.Before(e.exp) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
}

func (c *resellerCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}

// Reseller returns the limits of reseller and the images shared with reseller, client
// and project (each "" when the caller has none), looked up on the upstream's
// reseller_image and shared_image endpoints with the service identity, cached for
// Options.ResellerTTL, in the policy's shape.
func (c *Client) Reseller(ctx context.Context, reseller, client, project string) (map[string]any, error) {
	var limits, shared []any
	if reseller != "" {
		rows, err := c.resellerRows(ctx, "limits/"+reseller, "/v1/reseller_image/"+url.PathEscape(reseller))
		if err != nil {
			return nil, err
		}
		limits = rows
	}
	for _, e := range []struct{ kind, id string }{{"reseller", reseller}, {"client", client}, {"project", project}} {
		if e.id == "" {
			continue
		}
		q := url.Values{"entity_type": {e.kind}, "entity_id": {e.id}}
		rows, err := c.resellerRows(ctx, "shared/"+e.kind+"/"+e.id, "/v1/shared_image?"+q.Encode())
		if err != nil {
			return nil, err
		}
		shared = append(shared, rows...)
	}
	doc, err := ResellerDocument(limits, shared, "reseller_image", "shared_image")
	if err != nil {
		return nil, fmt.Errorf("%w: upstream answer: %v", ErrUpstream, err)
	}
	return doc, nil
}

// InvalidateReseller forgets every looked-up limit and shared image; the proxy calls it
// for every write to reseller_image or shared_image that passes through it.
func (c *Client) InvalidateReseller() { c.resellers.forget() }

// resellerRows GETs the results of a v1 list answer ({"count", "results"}), cached under
// key; a 404 is no rows.
func (c *Client) resellerRows(ctx context.Context, key, path string) ([]any, error) {
	if rows, ok := c.resellers.get(key); ok {
		c.observe("reseller", true)
		return rows, nil
	}
	c.observe("reseller", false)
	v, err, _ := c.group.Do("r\x00"+key, func() (any, error) {
		gen := c.resellers.generation()
		var page struct {
			Results []any `json:"results"`
		}
		found, err := c.getJSON(ctx, path, &page)
		if err != nil {
			return nil, err
		}
		if found && page.Results == nil {
			return nil, fmt.Errorf("%w: GET %s: no results list", ErrUpstream, path)
		}
		rows := page.Results
		if rows == nil {
			rows = []any{}
		}
		c.resellers.put(gen, key, rows)
		return rows, nil
	})
	if err != nil {
		return nil, err
	}
	rows, _ := v.([]any)
	return rows, nil
}
