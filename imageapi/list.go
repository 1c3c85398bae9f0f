package imageapi

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sortableKeys are the sort keys Glance accepts.
var sortableKeys = stringSet("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")

// listQuery is a parsed GET /v2/images query.
type listQuery struct {
	limit        int
	marker       string
	memberStatus string // accepted (default), pending, rejected, all
	memberGiven  bool
	visibility   string // "" when absent
	tags         []string
	sortKeys     []string
	sortDirs     []string // same length as sortKeys
	cmps         []func(x, y *Image) int
	conds        []func(*Image) bool
}

// parseListQuery parses the list parameters like Glance's deserializer and
// DB filters (400 on invalid values).
func parseListQuery(raw string) (*listQuery, *apiError) {
	params, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("Invalid query string: %v", err)
	}
	q := &listQuery{limit: DefaultListLimit, memberStatus: MemberAccepted}
	if v, ok := firstParam(params, "limit"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, badRequest("limit param must be an integer")
		}
		if n < 0 {
			return nil, badRequest("limit param must be positive")
		}
		q.limit = min(n, MaxListLimit)
	}
	q.marker, _ = firstParam(params, "marker")
	if v, ok := firstParam(params, "member_status"); ok {
		switch v {
		case MemberPending, MemberAccepted, MemberRejected, "all":
		default:
			return nil, badRequest("Invalid status: %s", v)
		}
		q.memberStatus, q.memberGiven = v, true
	}
	if v, ok := firstParam(params, "visibility"); ok && v != "" {
		if !visibilities[v] && v != "all" {
			return nil, badRequest("Invalid visibility value: %s", v)
		}
		q.visibility = v
	}
	if _, ok := params["changes-since"]; ok {
		return nil, badRequest("The \"changes-since\" filter is no longer available on v2.")
	}
	for _, t := range params["tag"] {
		q.tags = append(q.tags, strings.TrimSpace(t))
	}
	if e := q.parseSort(params); e != nil {
		return nil, e
	}
	q.compileSort()

	hidden := "false"
	if v, ok := firstParam(params, "os_hidden"); ok {
		hidden = strings.ToLower(v)
	}
	if hidden != "true" && hidden != "false" {
		return nil, badRequest("Invalid value '%s' for 'os_hidden' filter. Valid values are 'true' or 'false'.", hidden)
	}
	wantHidden := hidden == "true"
	q.conds = append(q.conds, func(img *Image) bool { return img.OSHidden == wantHidden })

	for key, values := range params {
		switch key {
		case "limit", "marker", "member_status", "visibility", "tag", "sort", "sort_key", "sort_dir", "os_hidden":
			continue
		}
		cond, e := filterCondition(key, values[0])
		if e != nil {
			return nil, e
		}
		q.conds = append(q.conds, cond)
	}
	return q, nil
}

func firstParam(params url.Values, key string) (string, bool) {
	vs, ok := params[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// parseSort handles both syntaxes: sort=name:asc,size and
// sort_key=name&sort_dir=asc (repeatable). created_at and id are appended
// so that the order is total.
func (q *listQuery) parseSort(params url.Values) *apiError {
	_, hasNew := params["sort"]
	_, hasKey := params["sort_key"]
	_, hasDir := params["sort_dir"]
	defaultDir := "desc"
	if hasNew {
		if hasKey || hasDir {
			return badRequest("Old and new sorting syntax cannot be combined")
		}
		for _, part := range strings.Split(strings.TrimSpace(params.Get("sort")), ",") {
			key, dir, _ := strings.Cut(part, ":")
			key, dir = strings.TrimSpace(key), strings.TrimSpace(dir)
			if dir == "" {
				dir = "desc"
			}
			if e := validateSort(key, dir); e != nil {
				return e
			}
			q.sortKeys = append(q.sortKeys, key)
			q.sortDirs = append(q.sortDirs, dir)
		}
	} else {
		for _, key := range params["sort_key"] {
			key = strings.TrimSpace(key)
			if !sortableKeys[key] {
				return validateSort(key, "asc")
			}
			q.sortKeys = append(q.sortKeys, key)
		}
		dirs := params["sort_dir"]
		for _, dir := range dirs {
			if e := validateSort("id", strings.TrimSpace(dir)); e != nil {
				return e
			}
		}
		if len(dirs) > 1 && len(dirs) != len(q.sortKeys) {
			return badRequest("Number of sort dirs does not match the number of sort keys")
		}
		if len(q.sortKeys) == 0 {
			q.sortKeys = []string{"created_at"}
		}
		switch {
		case len(dirs) == 0:
		case len(dirs) == 1:
			defaultDir = strings.TrimSpace(dirs[0])
		default:
			for _, d := range dirs {
				q.sortDirs = append(q.sortDirs, strings.TrimSpace(d))
			}
		}
		for len(q.sortDirs) < len(q.sortKeys) {
			q.sortDirs = append(q.sortDirs, defaultDir)
		}
	}
	for _, key := range []string{"created_at", "id"} {
		if !slices.Contains(q.sortKeys, key) {
			q.sortKeys = append(q.sortKeys, key)
			q.sortDirs = append(q.sortDirs, defaultDir)
		}
	}
	return nil
}

func validateSort(key, dir string) *apiError {
	if !sortableKeys[key] {
		return badRequest("Invalid sort key: %s. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.", key)
	}
	if dir != "asc" && dir != "desc" {
		return badRequest("Invalid sort direction: %s", dir)
	}
	return nil
}

// splitFilterOp splits "op:value" like Glance's split_filter_op: a value
// that is itself an ISO 8601 time keeps its colons and means "eq".
func splitFilterOp(expr string) (op, value string) {
	left, right, found := strings.Cut(expr, ":")
	if !found {
		return "eq", strings.TrimSpace(expr)
	}
	if _, err := parseISOTime(expr); err == nil {
		return "eq", strings.TrimSpace(expr)
	}
	return left, strings.TrimSpace(right)
}

func parseISOTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}

// filterCondition builds the condition of one filter parameter.
func filterCondition(key, value string) (func(*Image) bool, *apiError) {
	switch key {
	case "name", "id", "status", "container_format", "disk_format":
		op, v := splitFilterOp(value)
		get := func(img *Image) string {
			switch key {
			case "name":
				return img.Name
			case "id":
				return img.ID
			case "status":
				return img.Status
			case "container_format":
				return img.ContainerFormat
			default:
				return img.DiskFormat
			}
		}
		switch op {
		case "eq":
			return func(img *Image) bool { return get(img) == v }, nil
		case "in":
			set := stringSet(splitQuotedList(v)...)
			return func(img *Image) bool { return set[get(img)] }, nil
		default:
			return nil, badRequest("Unable to filter by unknown operator '%s'.", op)
		}
	case "created_at", "updated_at":
		op, v := splitFilterOp(value)
		threshold, err := parseISOTime(v)
		if err != nil {
			return nil, badRequest("Bad \"%s\" query filter format. Use ISO 8601 DateTime notation.", key)
		}
		get := func(img *Image) time.Time {
			if key == "created_at" {
				return img.CreatedAt
			}
			return img.UpdatedAt
		}
		var test func(c int) bool
		switch op {
		case "gt":
			test = func(c int) bool { return c > 0 }
		case "gte":
			test = func(c int) bool { return c >= 0 }
		case "lt":
			test = func(c int) bool { return c < 0 }
		case "lte":
			test = func(c int) bool { return c <= 0 }
		case "eq":
			test = func(c int) bool { return c == 0 }
		case "neq":
			test = func(c int) bool { return c != 0 }
		default:
			return nil, badRequest("Unable to filter by unknown operator '%s'.", op)
		}
		return func(img *Image) bool { return test(get(img).Truncate(time.Second).Compare(threshold)) }, nil
	case "protected":
		if value != "true" && value != "false" {
			return nil, badRequest("Invalid value '%s' for 'protected' filter. Valid values are 'true' or 'false'.", value)
		}
		want := value == "true"
		return func(img *Image) bool { return img.Protected == want }, nil
	case "owner":
		return func(img *Image) bool { return img.Owner == value }, nil
	case "checksum":
		return func(img *Image) bool { return img.Checksum == value }, nil
	case "os_hash_value":
		return func(img *Image) bool { return img.OSHashValue == value }, nil
	case "min_disk", "min_ram":
		n, err := strconv.Atoi(value)
		if err != nil {
			return func(*Image) bool { return false }, nil
		}
		if key == "min_disk" {
			return func(img *Image) bool { return img.MinDisk == n }, nil
		}
		return func(img *Image) bool { return img.MinRAM == n }, nil
	}
	if base, ok := strings.CutSuffix(key, "_min"); ok && rangeAttr(base) != nil {
		return rangeCondition(base, value, true)
	}
	if base, ok := strings.CutSuffix(key, "_max"); ok && rangeAttr(base) != nil {
		return rangeCondition(base, value, false)
	}
	// Anything else filters on a custom property.
	return func(img *Image) bool {
		p, ok := img.Properties[key]
		return ok && p == value
	}, nil
}

// rangeAttr returns the numeric attribute that *_min and *_max filters
// compare, or nil.
func rangeAttr(name string) func(*Image) (int64, bool) {
	switch name {
	case "size":
		return func(img *Image) (int64, bool) {
			if img.Size == nil {
				return 0, false
			}
			return *img.Size, true
		}
	case "virtual_size":
		return func(img *Image) (int64, bool) {
			if img.VirtualSize == nil {
				return 0, false
			}
			return *img.VirtualSize, true
		}
	case "min_disk":
		return func(img *Image) (int64, bool) { return int64(img.MinDisk), true }
	case "min_ram":
		return func(img *Image) (int64, bool) { return int64(img.MinRAM), true }
	}
	return nil
}

func rangeCondition(attr, value string, isMin bool) (func(*Image) bool, *apiError) {
	bound, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
	if err != nil {
		return nil, badRequest("Unable to filter on a range with a non-numeric value.")
	}
	get := rangeAttr(attr)
	return func(img *Image) bool {
		v, ok := get(img)
		if !ok {
			return false
		}
		if isMin {
			return v >= bound
		}
		return v <= bound
	}, nil
}

// splitQuotedList splits an "in:" list: comma separated, values optionally
// in double quotes.
func splitQuotedList(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

// matches applies the filters (not the visibility rules) to an image.
func (q *listQuery) matches(img *Image) bool {
	for _, c := range q.conds {
		if !c(img) {
			return false
		}
	}
	for _, t := range q.tags {
		if !img.hasTag(t) {
			return false
		}
	}
	return true
}

// listed reports whether the image belongs to the caller's list, following
// Glance's _select_images_query and the visibility parameter. The caller
// holds a.mu.
func (a *API) listed(c *caller, q *listQuery, img *Image) bool {
	if q.visibility != "" && q.visibility != "all" && img.Visibility != q.visibility {
		return false
	}
	if c.naive {
		if q.memberGiven && q.memberStatus != "all" {
			return a.hasMemberWithStatus(img.ID, q.memberStatus)
		}
		return true
	}
	if q.visibility == "" && img.Visibility == VisibilityCommunity && (c.project == "" || img.Owner != c.project) {
		// Without a visibility, community images only show to their owner.
		return false
	}
	if c.admin {
		return true
	}
	switch {
	case img.Visibility == VisibilityPublic || img.Visibility == VisibilityCommunity:
		return true
	case c.owns(img):
		return true
	case img.Visibility == VisibilityShared && c.project != "":
		m, ok := a.members[img.ID][c.project]
		return ok && (q.memberStatus == "all" || m.Status == q.memberStatus)
	}
	return false
}

func (a *API) hasMemberWithStatus(imageID, status string) bool {
	for _, m := range a.members[imageID] {
		if m.Status == status {
			return true
		}
	}
	return false
}

// compileSort turns the sort keys and directions into comparators.
func (q *listQuery) compileSort() {
	q.cmps = make([]func(x, y *Image) int, len(q.sortKeys))
	for i, key := range q.sortKeys {
		var c func(x, y *Image) int
		switch key {
		case "name":
			c = func(x, y *Image) int { return strings.Compare(x.Name, y.Name) }
		case "status":
			c = func(x, y *Image) int { return strings.Compare(x.Status, y.Status) }
		case "container_format":
			c = func(x, y *Image) int { return strings.Compare(x.ContainerFormat, y.ContainerFormat) }
		case "disk_format":
			c = func(x, y *Image) int { return strings.Compare(x.DiskFormat, y.DiskFormat) }
		case "size":
			c = func(x, y *Image) int { return compareSize(x.Size, y.Size) }
		case "id":
			c = func(x, y *Image) int { return strings.Compare(x.ID, y.ID) }
		case "created_at":
			c = func(x, y *Image) int { return x.CreatedAt.Compare(y.CreatedAt) }
		case "updated_at":
			c = func(x, y *Image) int { return x.UpdatedAt.Compare(y.UpdatedAt) }
		}
		if q.sortDirs[i] == "desc" {
			asc := c
			c = func(x, y *Image) int { return asc(y, x) }
		}
		q.cmps[i] = c
	}
}

// compareImages orders two images by the query's sort keys.
func (q *listQuery) compareImages(x, y *Image) int {
	for _, c := range q.cmps {
		if r := c(x, y); r != 0 {
			return r
		}
	}
	return 0
}

// firstN returns the n first items of candidates in the query's order,
// and whether more followed. It sorts everything only when n is a large
// part of the candidates; otherwise it keeps a sorted window of n+1.
func (q *listQuery) firstN(candidates []*Image, n int) ([]*Image, bool) {
	if n+1 >= len(candidates)/4 {
		slices.SortFunc(candidates, q.compareImages)
		if len(candidates) > n {
			return candidates[:n], true
		}
		return candidates, false
	}
	window := make([]*Image, 0, n+1)
	for _, img := range candidates {
		if len(window) == n+1 && q.compareImages(img, window[n]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(window, img, q.compareImages)
		if len(window) < n+1 {
			window = append(window, nil)
		}
		copy(window[i+1:], window[i:len(window)-1])
		window[i] = img
	}
	if len(window) > n {
		return window[:n], true
	}
	return window, false
}

// compareSize orders sizes with unset (null) first, as SQL does.
func compareSize(x, y *int64) int {
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return -1
	case y == nil:
		return 1
	}
	return cmp.Compare(*x, *y)
}

func (a *API) serveListImages(w http.ResponseWriter, r *http.Request, c *caller) {
	q, e := parseListQuery(r.URL.RawQuery)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if !c.canList() {
		writeAPIError(w, policyDenied("get_images"))
		return
	}

	a.mu.RLock()
	var marker *Image
	if q.marker != "" {
		rec, ok := a.images[q.marker]
		if !ok {
			a.mu.RUnlock()
			writeAPIError(w, badRequest("No image found with ID %s", q.marker))
			return
		}
		if !a.canSee(c, rec) {
			// Glance's DB layer says Forbidden for an existing image the
			// caller may not see: a small existence leak, kept on purpose.
			a.mu.RUnlock()
			writeAPIError(w, forbidden("Forbidding request, image %s not visible", q.marker))
			return
		}
		marker = &rec.img
	}
	selected := make([]*Image, 0, 64)
	for _, rec := range a.images {
		img := &rec.img
		if !q.matches(img) || !a.listed(c, q, img) {
			continue
		}
		if marker != nil && q.compareImages(img, marker) <= 0 {
			continue
		}
		selected = append(selected, img)
	}
	page, more := q.firstN(selected, q.limit)

	rest := queryWithout(r.URL.RawQuery, "marker")
	first := "/v2/images"
	if rest != "" {
		first += "?" + rest
	}
	body := make([]byte, 0, 256+900*len(page))
	body = append(body, `{"images":[`...)
	for i, img := range page {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendImage(body, img)
	}
	var nextID string
	if more && len(page) > 0 {
		nextID = page[len(page)-1].ID
	}
	a.mu.RUnlock()

	body = append(body, `],"first":`...)
	body = appendString(body, first)
	if nextID != "" {
		body = append(body, `,"next":`...)
		body = appendString(body, "/v2/images?"+joinQuery(rest, "marker="+url.QueryEscape(nextID)))
	}
	body = append(body, `,"schema":"/v2/schemas/images"}`...)
	writeRawJSON(w, http.StatusOK, body)
}

// queryWithout returns the raw query without the pairs named key, keeping
// the order and encoding of the others.
func queryWithout(raw, key string) string {
	if raw == "" {
		return ""
	}
	var kept []string
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil && n == key {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

func joinQuery(a, b string) string {
	if a == "" {
		return b
	}
	return a + "&" + b
}
