package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestParseKeyFile(t *testing.T) {
	rs := mustSigner(t, "RS256", "r")
	es := mustSigner(t, "ES256", "e")
	ed := mustSigner(t, "EdDSA", "d")
	rsaPub := rs.key.Public().(*rsa.PublicKey)

	pemOf := func(s *Signer) []byte {
		b, err := s.PublicKeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	certDER, err := x509.CreateCertificate(rand.Reader,
		&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: t0, NotAfter: t0.Add(time.Hour)},
		&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}}, rsaPub, rs.key)
	if err != nil {
		t.Fatal(err)
	}
	singleJWK, err := json.Marshal(jose.JSONWebKey{Key: es.key.Public(), KeyID: "from-jwk"})
	if err != nil {
		t.Fatal(err)
	}
	privJWK, err := json.Marshal(jose.JSONWebKey{Key: es.key, KeyID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	octJWK, err := json.Marshal(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "o"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		data     []byte
		kid      string
		wantKIDs []string
		wantType string
		wantErr  string
	}{
		{"PKIX RSA", pemOf(rs), "k1", []string{"k1"}, "RSA 2048", ""},
		{"PKIX EC", pemOf(es), "", []string{""}, "EC P-256", ""},
		{"PKIX Ed25519", pemOf(ed), "d", []string{"d"}, "Ed25519", ""},
		{"PKCS#1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rsaPub)}), "k", []string{"k"}, "RSA 2048", ""},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), "c", []string{"c"}, "RSA 2048", ""},
		{"two PEM blocks", append(pemOf(rs), pemOf(es)...), "k", []string{"k", "k"}, "RSA 2048", ""},
		{"single JWK", singleJWK, "", []string{"from-jwk"}, "EC P-256", ""},
		{"single JWK, kid overridden", singleJWK, "mine", []string{"mine"}, "EC P-256", ""},
		{"JWK Set", jwksDoc(t, rs, es), "", []string{"r", "e"}, "RSA 2048", ""},
		{"private JWK", privJWK, "", nil, "", "private key material"},
		{"symmetric JWK", octJWK, "", nil, "", "symmetric key"},
		{"private PEM", []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"), "", nil, "", "private keys do not belong"},
		{"unknown PEM type", []byte("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"), "", nil, "", "unsupported PEM block type"},
		{"broken JSON", []byte(`{"keys": [`), "", nil, "", "parsing JSON"},
		{"JWK Set with a bad key", []byte(`{"keys": [{"kty": "RSA"}]}`), "", nil, "", "key 0"},
		{"empty", nil, "", nil, "", "no PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseKeyFile(tt.data, tt.kid)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range keys {
				kids = append(kids, k.kid)
			}
			if strings.Join(kids, ",") != strings.Join(tt.wantKIDs, ",") {
				t.Fatalf("kids %v, want %v", kids, tt.wantKIDs)
			}
			if got := describeKey(keys[0].key); got != tt.wantType {
				t.Fatalf("key type %s, want %s", got, tt.wantType)
			}
		})
	}
}

func TestAlgFits(t *testing.T) {
	rs := mustSigner(t, "RS256", "").key.Public()
	es := mustSigner(t, "ES256", "").key.Public()
	es384 := mustSigner(t, "ES384", "").key.Public()
	ed := mustSigner(t, "EdDSA", "").key.Public()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		alg  string
		key  any
		want bool
	}{
		{"RS256", rs, true}, {"PS512", rs, true}, {"RS256", es, false}, {"RS256", secret, false},
		{"RS256", &weak.PublicKey, false},
		{"ES256", es, true}, {"ES384", es, false}, {"ES384", es384, true}, {"ES256", rs, false},
		{"EdDSA", ed, true}, {"EdDSA", es, false},
		{"HS256", secret, true}, {"HS256", secret[:31], false}, {"HS256", rs, false},
	}
	for _, tt := range tests {
		t.Run(tt.alg+"/"+describeKey(tt.key), func(t *testing.T) {
			spec, ok := lookupAlg(tt.alg)
			if !ok {
				t.Fatal("unknown alg")
			}
			if got := spec.fits(tt.key); got != tt.want {
				t.Fatalf("fits = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := lookupAlg("none"); ok {
		t.Fatal(`"none" is supported`)
	}
}
