package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/store"
)

// FuzzAPartAnswersOnlyRangesItHoldsWhole checks policy.RangesWithin against
// net/http's own range handling in deliverPart: whenever a stored part is
// said to answer a Range field, the answer is a 206 whose body is as long
// as it says (a read outside the part would cut it short).
func FuzzAPartAnswersOnlyRangesItHoldsWhole(f *testing.F) {
	for _, spec := range []string{"bytes=-5", "bytes=6-8", "bytes=6-", "bytes=5-6, 8-9", "bytes=5-9,5-9,5-9", "bytes=-0", "bytes= 6-7 ,, 8-8", "bytes=06-07"} {
		f.Add(spec, int64(5), int64(9), int64(10))
	}
	f.Fuzz(func(t *testing.T, spec string, first, last, size int64) {
		held := policy.ContentRange{First: first, Last: last, Size: size}
		if first < 0 || first > last || last >= size || size > 1<<16 || !policy.RangesWithin(spec, held) {
			return
		}
		e := &store.Entry{
			Status: http.StatusPartialContent,
			Header: http.Header{"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", first, last, size)}},
			Body:   make([]byte, held.Len()),
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Range", spec)
		w := httptest.NewRecorder()
		(&Proxy{}).deliverPart(w, r, e)
		length, _ := strconv.Atoi(w.Header().Get("Content-Length"))
		if w.Code != http.StatusPartialContent || w.Body.Len() != length {
			t.Errorf("RFC 9111 §3.3: Range %q inside the part %d-%d/%d: %d with %d of %d bytes, want a whole 206", spec, first, last, size, w.Code, w.Body.Len(), length)
		}
	})
}
