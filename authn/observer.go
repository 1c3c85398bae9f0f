package authn

import "time"

// Observer receives the outcome of authentications and JWKS refreshes, so that
// the caller can export metrics without this package depending on a metrics
// library. Implementations must be safe for concurrent use and fast: they are
// called on the request path.
//
// Labels are bounded: issuer is always a configured issuer (or "" when the
// token named none), never a value copied from an unverified token.
type Observer interface {
	// ObserveAuth is called once per Authenticate/AuthenticateToken call. code
	// is CodeOK on success; cached tells whether the verified-token cache
	// answered; d is the time spent.
	ObserveAuth(issuer string, code Code, cached bool, d time.Duration)
	// ObserveJWKSRefresh is called after every JWKS fetch of an issuer, with
	// the fetch's error (nil on success).
	ObserveJWKSRefresh(issuer string, err error)
}

// nopObserver is used when no Observer is configured, so that call sites need
// no nil checks.
type nopObserver struct{}

func (nopObserver) ObserveAuth(string, Code, bool, time.Duration) {}
func (nopObserver) ObserveJWKSRefresh(string, error)              {}
