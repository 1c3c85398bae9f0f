package proxy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDecodeStrictJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"object", `{"member": "123"}`, ""},
		{"array", `[{"op":"add","path":"/a","value":1}]`, ""},
		{"nested duplicates allowed in different objects", `{"a":{"k":1},"b":{"k":2}}`, ""},
		{"duplicate key", `{"member":"A","member":"B"}`, `key "member" twice`},
		{"nested duplicate key", `{"a":{"k":1,"k":2}}`, `key "k" twice`},
		{"trailing data", `{"a":1} {"b":2}`, "data after"},
		{"trailing garbage", `{"a":1}x`, ""},
		{"invalid", `{"a":`, "not valid JSON"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "UTF-8"},
		{"too deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), "deeper"},
		{"empty", ``, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStrictJSONDepth([]byte(tt.in), 0)
			if tt.name == "trailing garbage" {
				if err == nil {
					t.Fatal("trailing garbage accepted")
				}
				return
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeStrictJSONKeepsNumbers(t *testing.T) {
	v, err := decodeStrictJSONDepth([]byte(`{"min_disk": 12345678901234567890}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.(map[string]any)["min_disk"].(json.Number); n.String() != "12345678901234567890" {
		t.Fatalf("number changed to %s", n)
	}
}

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"/name", []string{"name"}, false},
		{"/a~1b", []string{"a/b"}, false},
		{"/a~0b", []string{"a~b"}, false},
		{"/locations/0", []string{"locations", "0"}, false},
		{"name", nil, true},
		{"/", nil, true},
		{"/a~2", nil, true},
		{"/a~", nil, true},
		{"/a//b", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePointer(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parsePointer(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("parsePointer(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParsePatch(t *testing.T) {
	good := `[{"op":"replace","path":"/name","value":"x"},{"op":"remove","path":"/foo"},{"op":"add","path":"/k","value":null}]`
	doc, err := decodeStrictJSONDepth([]byte(good), 0)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := parsePatch(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 3 || ops[1].HasValue || !ops[2].HasValue || ops[0].Pointer[0] != "name" {
		t.Fatalf("parsed %+v", ops)
	}
	for _, bad := range []string{
		`{"op":"add"}`,
		`["add"]`,
		`[{"path":"/a"}]`,
		`[{"op":"add"}]`,
		`[{"op":"add","path":"/a","value":1,"from":"/b"}]`,
		`[{"op":1,"path":"/a"}]`,
		`[{"op":"add","path":"a"}]`,
	} {
		doc, err := decodeStrictJSONDepth([]byte(bad), 0)
		if err != nil {
			t.Fatalf("%s: %v", bad, err)
		}
		if _, err := parsePatch(doc); err == nil {
			t.Errorf("parsePatch accepted %s", bad)
		}
	}
}

// TestReadLimitedSized: the announced length is a hint for the buffer only; what is read
// and the limit decide.
func TestReadLimitedSized(t *testing.T) {
	body := strings.Repeat("x", 1000)
	tests := []struct {
		name      string
		in        string
		limit     int64
		announced int64
		wantErr   error
	}{
		{"announced exactly", body, 4096, 1000, nil},
		{"unknown length", body, 4096, -1, nil},
		{"announced short", body, 4096, 10, nil},
		{"announced long", body, 4096, 3000, nil},
		{"announced over the limit", body, 4096, 1 << 40, nil},
		{"empty", "", 4096, 0, nil},
		{"at the limit", body, 1000, 1000, nil},
		{"over the limit, announced within", body, 999, 500, errTooLarge},
		{"over the limit, unknown length", body, 999, -1, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readLimitedSized(iotest.OneByteReader(strings.NewReader(tt.in)), tt.limit, tt.announced)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.in {
				t.Fatalf("read %d bytes, want %d", len(got), len(tt.in))
			}
		})
	}
	boom := errors.New("connection reset")
	if _, err := readLimitedSized(iotest.ErrReader(boom), 4096, 100); !errors.Is(err, boom) {
		t.Fatalf("a failing read: %v", err)
	}
}
