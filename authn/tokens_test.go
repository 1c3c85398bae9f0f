package authn

import (
	"context"
	"testing"
	"time"
)

// TestSigner checks that what a Signer publishes verifies what it signs,
// both as a key file and from a JWKS URL.
func TestSigner(t *testing.T) {
	for _, kind := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(kind, func(t *testing.T) {
			var s *Signer
			var err error
			switch kind {
			case "RS256":
				s, err = NewRSASigner("demo")
			case "ES256":
				s, err = NewECDSASigner("demo")
			case "EdDSA":
				s, err = NewEd25519Signer("demo")
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.KeyID() != "demo" || s.Algorithm() != kind {
				t.Fatalf("kid %q alg %q", s.KeyID(), s.Algorithm())
			}
			pemBytes, err := s.PublicKeyPEM()
			if err != nil {
				t.Fatal(err)
			}
			jwks, err := s.PublicJWKS()
			if err != nil {
				t.Fatal(err)
			}
			srv := newJWKSServer(t, jwks)

			fromFile := baseIssuer()
			fromFile.Algorithms = []string{kind}
			fromFile.KeyFiles = []KeyFile{{Path: writeFile(t, "k.pem", pemBytes), KID: "demo"}}
			fromURL := fromFile
			fromURL.KeyFiles, fromURL.JWKSURL = nil, srv.URL

			for name, ic := range map[string]IssuerConfig{"key file": fromFile, "jwks_url": fromURL} {
				a := newTestAuthenticator(t, Config{Issuers: []IssuerConfig{ic}},
					WithClock(func() time.Time { return t0 }), WithHTTPClient(srv.Client()))
				tok, err := s.Sign(validClaims())
				if err != nil {
					t.Fatal(err)
				}
				if _, err := a.AuthenticateToken(context.Background(), tok); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		})
	}
}
