package store

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// heapBytes is the live heap after a full collection.
func heapBytes() (alloc, inuse uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.HeapInuse
}

// storedEntry is an entry as the proxy stores one for path: the origin's
// header fields (canonical names, which net/http interns; values
// allocated per response), an allocated key and host, a shared route name.
func storedEntry(path string, body []byte) *Entry {
	now := time.Now()
	h := http.Header{
		"Content-Type":   {"text/plain; charset=" + strconv.Itoa(len(path)%3)},
		"Content-Length": {strconv.Itoa(len(body))},
		"Date":           {now.UTC().Format(http.TimeFormat)},
		"Cache-Control":  {"max-age=" + strconv.Itoa(60+len(path)%7)},
		"Etag":           {`"` + path + `"`},
		"Last-Modified":  {now.Add(-time.Hour).UTC().Format(http.TimeFormat)},
	}
	return &Entry{
		Key: "http://127.0.0.1:8080" + path, Route: "default", Host: "127.0.0.1:" + strconv.Itoa(8080+len(path)%2),
		Status: 200, Header: h, Body: body, RequestTime: now, ResponseTime: now, Freshness: time.Minute,
	}
}

func TestMemoryHoldsMaxBytesAsMeasuredHeapWithin15Percent(t *testing.T) {
	rows := []struct {
		name     string
		maxBytes int64
		body     int
	}{
		{"10-byte bodies", 32 << 20, 10},
		{"1 MiB bodies", 64 << 20, 1 << 20},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			ctx := context.Background()
			baseAlloc, baseInuse := heapBytes()
			m := NewMemory(row.maxBytes)
			// Twice what fits: the store is full and has evicted.
			var stored int64
			for i := 0; stored < 2*row.maxBytes; i++ {
				path := fmt.Sprintf("/p/%d", i)
				e := storedEntry(path, make([]byte, row.body))
				stored += e.Size()
				if err := m.Set(ctx, fmt.Sprintf("%064x", i), e, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			alloc, inuse := heapBytes()
			runtime.KeepAlive(m)
			grewAlloc, grewInuse := float64(alloc-baseAlloc), float64(inuse-baseInuse)
			t.Logf("max_bytes %d, %d entries: HeapAlloc grew %.0f (%.2fx), HeapInuse grew %.0f (%.2fx)",
				row.maxBytes, m.Len(), grewAlloc, grewAlloc/float64(row.maxBytes), grewInuse, grewInuse/float64(row.maxBytes))
			for name, grew := range map[string]float64{"HeapAlloc": grewAlloc, "HeapInuse": grewInuse} {
				if ratio := grew / float64(row.maxBytes); ratio < 0.85 || ratio > 1.15 {
					t.Errorf("a full store of max_bytes %d grew %s by %.0f bytes, %.2f times the bound; want within 15%%", row.maxBytes, name, grew, ratio)
				}
			}
		})
	}
}
