package route

import (
	"strings"
	"unicode/utf8"
)

// Percent-decoding shared by the path and query checks. Both validate their input fully
// before calling decode, so decode itself never fails.

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default: // 'A'..'F', guaranteed by isHex
		return c - 'A' + 10
	}
}

// escapedByte returns the byte encoded by the escape starting at s[i] ('%'), and whether
// s[i:i+3] is a well-formed escape at all.
func escapedByte(s string, i int) (byte, bool) {
	if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
		return 0, false
	}
	return unhex(s[i+1])<<4 | unhex(s[i+2]), true
}

// decode percent-decodes s, which the caller has validated; escapes is the number of
// escapes in s and plus says whether '+' means a space (query strings, not paths).
// One allocation, sized exactly.
func decode(s string, escapes int, plus bool) string {
	var b strings.Builder
	b.Grow(len(s) - 2*escapes)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		case c == '+' && plus:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isControl reports whether the ASCII byte c is a C0 control character or DEL.
func isControl(c byte) bool {
	return c < 0x20 || c == 0x7f
}

// checkText reports what is wrong with a decoded string's non-ASCII part, or "" if
// nothing is: it must be valid UTF-8 (the policy input is JSON, where invalid bytes would
// be replaced by U+FFFD, so the policy would see another value than the upstream) and
// must not hold C1 control characters (U+0080–U+009F), which are as dangerous in logs as
// their ASCII cousins. ASCII control characters are refused earlier, byte by byte.
func checkText(s string) string {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "not valid UTF-8 after percent-decoding"
		}
		if r >= 0x80 && r <= 0x9f {
			return "control character"
		}
		i += size
	}
	return ""
}
