package api

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// The PUT answer is the hottest response body; echo's c.JSON builds an
// encoder and a header value for it each time (BenchmarkPut/real: 55
// allocations per PUT through c.JSON, 52 this way). It is written by hand
// here instead, byte for byte as encoding/json writes it
// (TestPutResponseEncoding holds the two together).

// bufPool recycles response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// jsonContentType is what c.JSON sets, allocated once.
var jsonContentType = []string{echo.MIMEApplicationJSON}

// writePutResponse writes out as the JSON body of a status response.
// ?pretty (echo's indented JSON) goes through c.JSON as every other body.
func writePutResponse(c echo.Context, status int, out putResponse) error {
	if c.Request().URL.RawQuery != "" && c.QueryParams().Has("pretty") {
		return c.JSON(status, out)
	}
	bp := bufPool.Get().(*[]byte)
	b := appendPutResponse((*bp)[:0], out)
	w := c.Response()
	w.Header()[echo.HeaderContentType] = jsonContentType
	w.WriteHeader(status)
	_, err := w.Write(b)
	if cap(b) <= 64<<10 { // do not keep a buffer a huge key grew
		*bp = b
		bufPool.Put(bp)
	}
	return err
}

// appendPutResponse appends out as encoding/json's Encoder writes it,
// newline included.
func appendPutResponse(b []byte, out putResponse) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, out.Key)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, out.Revision, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(out.Size), 10)
	b = append(b, `,"expires_at":`...)
	if out.ExpiresAt == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *out.ExpiresAt)
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json does
// with HTML escaping on (its default): ", \ and control characters
// escaped, <, > and & as \u003c..., U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
