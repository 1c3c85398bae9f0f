package route

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseQueryAccepts(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want url.Values
	}{
		{"empty", "", url.Values{}},
		{"one", "limit=10", url.Values{"limit": {"10"}}},
		{"several", "limit=10&marker=abc&sort_key=name", url.Values{"limit": {"10"}, "marker": {"abc"}, "sort_key": {"name"}}},
		{"repeated", "tag=a&tag=b", url.Values{"tag": {"a", "b"}}},
		{"no value", "member_status", url.Values{"member_status": {""}}},
		{"empty value", "name=", url.Values{"name": {""}}},
		{"equals in value", "a==b", url.Values{"a": {"=b"}}},
		{"plus is space", "name=my+image", url.Values{"name": {"my image"}}},
		{"encoded plus", "name=a%2Bb", url.Values{"name": {"a+b"}}},
		{"encoded space", "name=my%20image", url.Values{"name": {"my image"}}},
		{"encoded semicolon", "name=a%3Bb", url.Values{"name": {"a;b"}}},
		{"encoded hash", "name=a%23b", url.Values{"name": {"a#b"}}},
		{"encoded ampersand", "name=a%26b", url.Values{"name": {"a&b"}}},
		{"encoded UTF-8", "name=%C3%A9t%C3%A9", url.Values{"name": {"été"}}},
		{"encoded key", "sort%5Fkey=name", url.Values{"sort_key": {"name"}}},
		{"glance filters", "created_at=gte:2016-04-18T21:38:54Z&sort=name:asc,status:desc&id=in:a,b",
			url.Values{"created_at": {"gte:2016-04-18T21:38:54Z"}, "sort": {"name:asc,status:desc"}, "id": {"in:a,b"}}},
		{"slash and question mark", "next=/v2/images?marker=x", url.Values{"next": {"/v2/images?marker=x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseQuery(tt.raw, 10)
			wantCode(t, err, "")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseQuery(%q) = %v, want %v", tt.raw, got, tt.want)
			}
			// What the policy sees is what a standard parser (the upstream's stand-in) sees.
			std, err := url.ParseQuery(tt.raw)
			if err != nil || !reflect.DeepEqual(std, tt.want) {
				t.Errorf("url.ParseQuery(%q) = %v, %v; differs", tt.raw, std, err)
			}
		})
	}
}

func TestParseQueryRefuses(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		code string
		why  string
	}{
		{"semicolon separator", "a=1;b=2", CodeBadQuery, "semicolon"},
		{"semicolon only", ";", CodeBadQuery, "semicolon"},
		{"semicolon in value", "name=a;b", CodeBadQuery, "semicolon"},
		{"semicolon in key", "a;b=1", CodeBadQuery, "semicolon"},
		{"lone percent", "a=%", CodeBadQuery, "malformed"},
		{"short escape", "a=%4", CodeBadQuery, "malformed"},
		{"non-hex escape", "a=%zz", CodeBadQuery, "malformed"},
		{"malformed in key", "%x=1", CodeBadQuery, "malformed"},
		{"encoded NUL", "a=%00", CodeBadQuery, "control"},
		{"encoded LF", "a=x%0Ay", CodeBadQuery, "control"},
		{"encoded CR", "a=x%0dy", CodeBadQuery, "control"},
		{"encoded DEL", "a=%7F", CodeBadQuery, "control"},
		{"encoded C1", "a=%C2%85", CodeBadQuery, "control"},
		{"encoded NUL in key", "a%00=1", CodeBadQuery, "control"},
		{"raw NUL", "a=\x00", CodeBadQuery, "control"},
		{"raw TAB", "a=\t", CodeBadQuery, "control"},
		{"raw DEL", "a=\x7f", CodeBadQuery, "control"},
		{"raw space", "a=b c", CodeBadQuery, "percent-encoded"},
		{"raw non-ASCII", "a=\u00e9", CodeBadQuery, "percent-encoded"},
		{"raw hash", "a=1#frag", CodeBadQuery, "fragment"},
		{"invalid UTF-8", "a=%FF", CodeBadQuery, "UTF-8"},
		{"overlong UTF-8", "a=%C0%AE", CodeBadQuery, "UTF-8"},
		{"empty key", "=x", CodeBadQuery, "name"},
		{"empty key no value", "=", CodeBadQuery, "name"},
		{"empty key later", "a=1&=2", CodeBadQuery, "name"},
		{"double ampersand", "a=1&&b=2", CodeBadQuery, "empty query parameter"},
		{"leading ampersand", "&a=1", CodeBadQuery, "empty query parameter"},
		{"trailing ampersand", "a=1&", CodeBadQuery, "empty query parameter"},
		{"ampersand only", "&", CodeBadQuery, "empty query parameter"},
		{"too many", "a=1&b=2&c=3&d=4", CodeTooManyParams, "too many"},
		{"too many repeated", "tag=a&tag=b&tag=c&tag=d", CodeTooManyParams, "too many"},
		{"too many ampersands", strings.Repeat("&", 1000), CodeTooManyParams, "too many"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseQuery(tt.raw, 3)
			e := wantCode(t, err, tt.code)
			if !strings.Contains(e.Message, tt.why) {
				t.Errorf("message = %q, want it to mention %q", e.Message, tt.why)
			}
			if got != nil {
				t.Errorf("values = %v on error", got)
			}
			if e.Status() != 400 {
				t.Errorf("status = %d", e.Status())
			}
		})
	}
}

// TestStdlibSemicolon confirms net/url refuses ";" separators too. ParseQuery does not
// rely on it (it has its own parser), but if this ever changed, the upstream stand-in in
// the differential tests would read such queries differently.
func TestStdlibSemicolon(t *testing.T) {
	if _, err := url.ParseQuery("a=1;b=2"); err == nil {
		t.Fatal("url.ParseQuery accepts ; as a separator")
	}
}

func TestParseQueryLimit(t *testing.T) {
	tests := []struct {
		name   string
		params int
		max    int
		code   string
	}{
		{"at limit", 5, 5, ""},
		{"over limit", 6, 5, CodeTooManyParams},
		{"one allowed", 1, 1, ""},
		{"default at limit", DefaultMaxParams, 0, ""},
		{"default over limit", DefaultMaxParams + 1, 0, CodeTooManyParams},
		{"negative means default", DefaultMaxParams + 1, -1, CodeTooManyParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.TrimSuffix(strings.Repeat("tag=x&", tt.params), "&")
			v, err := ParseQuery(raw, tt.max)
			wantCode(t, err, tt.code)
			if tt.code == "" && len(v["tag"]) != tt.params {
				t.Errorf("got %d values, want %d", len(v["tag"]), tt.params)
			}
		})
	}
}

// TestParseQueryNoCopy: undecoded names and values share the input's memory.
func TestParseQueryNoCopy(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeQueryPart("limit"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("decodeQueryPart allocates %v times for a plain value", allocs)
	}
}
