package route

import (
	"net/url"
	"strings"
)

// DefaultMaxParams is the parameter limit ParseQuery applies when given a limit ≤ 0, so
// that an unset configuration value means a sane bound rather than none (or zero).
const DefaultMaxParams = 100

// ParseQuery parses the raw query string of a request strictly and returns its
// parameters. The proxy forwards the original raw query only when this succeeded, so the
// upstream receives exactly the parameters the policy saw.
//
// It refuses, with a CodeBadQuery *Error:
//
//   - ";" as a separator (url.ParseQuery errors on it too, but some upstream frameworks
//     still split on it, which makes "a=1;b=2" mean different things to different readers);
//   - empty parameters ("a=1&&b=2", a leading or trailing "&") and empty names ("=x");
//   - malformed escapes, control characters raw or encoded, raw "#", raw spaces and raw
//     non-ASCII bytes (a WSGI upstream reads those as Latin-1, the proxy as UTF-8);
//   - names or values that are not valid UTF-8 after decoding.
//
// More than maxParams parameters (each repetition of a name counts) is refused with
// CodeTooManyParams before anything is decoded. maxParams ≤ 0 means DefaultMaxParams.
//
// Decoding is that of url.ParseQuery ("+" is a space); the result is never nil.
func ParseQuery(raw string, maxParams int) (url.Values, error) {
	if maxParams <= 0 {
		maxParams = DefaultMaxParams
	}
	if raw == "" {
		return url.Values{}, nil
	}
	n := strings.Count(raw, "&") + 1
	if n > maxParams {
		return nil, newError(CodeTooManyParams, "too many query parameters")
	}
	// Most queries have a handful of parameters; don't let the count size the map.
	v := make(url.Values, min(n, 8))
	rest := raw
	for {
		pair, tail, more := strings.Cut(rest, "&")
		if pair == "" {
			return nil, badQuery("empty query parameter")
		}
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		if rawKey == "" {
			return nil, badQuery("empty query parameter name")
		}
		key, err := decodeQueryPart(rawKey)
		if err != nil {
			return nil, err
		}
		val, err := decodeQueryPart(rawVal)
		if err != nil {
			return nil, err
		}
		v[key] = append(v[key], val)
		if !more {
			return v, nil
		}
		rest = tail
	}
}

// decodeQueryPart validates and decodes one name or value of a query. It returns s itself
// (no allocation) when there is nothing to decode.
func decodeQueryPart(s string) (string, error) {
	escapes := 0
	plus := false
	nonASCII := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			b, ok := escapedByte(s, i)
			if !ok {
				return "", badQuery("malformed percent escape")
			}
			if isControl(b) {
				return "", badQuery("control character")
			}
			if b >= 0x80 {
				nonASCII = true
			}
			escapes++
			i += 2
		case c == '+':
			plus = true
		case isControl(c):
			return "", badQuery("control character")
		case c == ';':
			return "", badQuery("semicolon separator")
		case c == '#':
			return "", badQuery("fragment marker #")
		case c == ' ' || c >= 0x80:
			return "", badQuery("character that must be percent-encoded")
		}
	}
	if escapes == 0 && !plus {
		return s, nil
	}
	d := decode(s, escapes, true)
	if nonASCII {
		if msg := checkText(d); msg != "" {
			return "", badQuery(msg)
		}
	}
	return d, nil
}
