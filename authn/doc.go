// Package authn turns the bearer token of an incoming request into a verified
// [Principal].
//
// Tokens are JWTs (JWS compact serialisation) issued by one of the configured
// issuers. The verification pipeline, in order, is:
//
//  1. [TokenFromRequest] takes the token from X-Auth-Token or from
//     "Authorization: Bearer"; both present and different is refused.
//  2. Cheap structural checks, before any decoding: size (max_token_bytes) and
//     exactly three dot-separated parts of base64url characters.
//  3. The verified-token cache is consulted (keyed by SHA-256 of the token,
//     never the token itself). A hit is only served before the token's exp.
//  4. The header and the iss claim are decoded without verification, only to
//     pick the issuer's configuration. The alg header must be one of that
//     issuer's pinned algorithms ("none" never is).
//  5. The signature is verified by github.com/golang-jwt/jwt/v5 with a key of
//     that issuer chosen by kid. Keys come only from configuration: key files,
//     a JWKS URL, or OIDC discovery. Headers that carry or point to keys
//     (jwk, jku, x5u, x5c) are never looked at, and kid is only ever a map
//     key, never a path or URL. The key's type (and curve) must fit the alg,
//     which defeats algorithm-confusion attacks.
//  6. exp (required), nbf and iat are checked with the configured leeway, then
//     iss, aud and the configured claims. Every failure is an [*Error] with a
//     stable [Code].
//
// Key selection: a token's kid picks the issuer keys with that kid (from key
// files and the JWKS). If none has it, the JWKS is refreshed (at most once per
// min_refresh_interval, shared by concurrent requests) and, failing that,
// keys configured without a kid are tried. A token without kid is tried
// against every key of the issuer that fits its alg, but only when there are
// at most 8 of them; otherwise it is refused (unknown_key), so that one token
// cannot cost an unbounded number of signature checks.
//
// Outcomes can be observed through [Observer] without this package importing
// a metrics library.
package authn
