package proxy

import (
	"strings"
	"testing"
)

func TestMarkerSealRoundTrip(t *testing.T) {
	s := markerSealer{key: []byte("0123456789abcdef0123456789abcdef")}
	sealed := s.seal("1000", "img-1")
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, "img-1") {
		t.Fatalf("sealed marker %q shows the id", sealed)
	}
	id, ok, err := s.unseal("1000", sealed)
	if err != nil || !ok || id != "img-1" {
		t.Fatalf("unseal = %q, %v, %v", id, ok, err)
	}
	if _, ok, err := s.unseal("2000", sealed); !ok || err == nil {
		t.Fatal("a marker sealed for tenant 1000 opened for tenant 2000")
	}
	if _, ok, err := s.unseal("1000", sealed+"x"); !ok || err == nil {
		t.Fatal("a tampered marker opened")
	}
	other := markerSealer{key: []byte("another key, another proxy......")}
	if _, ok, err := other.unseal("1000", sealed); !ok || err == nil {
		t.Fatal("a marker opened under another key")
	}
	if _, ok, _ := s.unseal("1000", "img-1"); ok {
		t.Fatal("a plain marker was taken for a sealed one")
	}
	for _, bad := range []string{sealedPrefix, sealedPrefix + "!!!.x", sealedPrefix + "aW1n"} {
		if _, ok, err := s.unseal("1000", bad); !ok || err == nil {
			t.Errorf("malformed sealed marker %q accepted", bad)
		}
	}
}
