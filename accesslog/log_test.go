package accesslog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTheLogWritesEveryRecordInItsFormatByClose(t *testing.T) {
	var out bytes.Buffer
	l, err := Open(Settings{Enabled: true, Format: FormatCombined, Output: "stdout"}, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		l.Write(sampleRecord())
	}
	l.Close()
	if n := strings.Count(out.String(), "\n"); n != 100 || l.Dropped() != 0 {
		t.Errorf("%d lines, %d dropped, want 100 and 0", n, l.Dropped())
	}
}

func TestAFullQueueDropsAndCountsInsteadOfWaiting(t *testing.T) {
	l := &Log{queue: make(chan *Record, 2)} // no writer goroutine: nothing drains
	for range 5 {
		l.Write(sampleRecord())
	}
	if l.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", l.Dropped())
	}
}

func TestReopenStartsANewFileUnderTheSameNameAfterARename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(Settings{Enabled: true, Format: FormatJSON, Output: path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write(sampleRecord())
	l.do(func() {}) // written
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Write(sampleRecord()) // still to the renamed file, as logrotate expects
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write(sampleRecord())
	l.do(func() {})
	if lines := countLines(t, path+".1"); lines != 2 {
		t.Errorf("rotated file has %d lines, want 2", lines)
	}
	if lines := countLines(t, path); lines != 1 {
		t.Errorf("new file has %d lines, want 1", lines)
	}
}

func TestConfigureSwitchesFormatAndOutputAndRefusesAFileItCannotOpen(t *testing.T) {
	var stdout, stderr bytes.Buffer
	l, err := Open(Settings{Enabled: true, Format: FormatJSON, Output: "stdout"}, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write(sampleRecord())
	if err := l.Configure(Settings{Enabled: true, Format: FormatCombined, Output: "stderr"}); err != nil {
		t.Fatal(err)
	}
	l.Write(sampleRecord())
	if err := l.Configure(Settings{Enabled: true, Format: FormatJSON, Output: filepath.Join(t.TempDir(), "no", "dir", "a.log")}); err == nil {
		t.Error("Configure accepted a file in a missing directory")
	}
	l.Write(sampleRecord()) // the old settings stay
	l.do(func() {})
	if !strings.HasPrefix(stdout.String(), "{") || strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("stdout = %q, want the one JSON line before the reload", stdout.String())
	}
	if strings.Count(stderr.String(), `"GET /a?b=1 HTTP/1.1"`) != 2 {
		t.Errorf("stderr = %q, want two combined lines", stderr.String())
	}
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestRecordsLostToAFullDiskAreCountedAsDropped(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	l, err := Open(Settings{Enabled: true, Format: FormatJSON, Output: "/dev/full"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		l.Write(sampleRecord())
	}
	l.Close()
	if l.Dropped() != 3 {
		t.Errorf("dropped %d, want 3: every record went to a disk without space", l.Dropped())
	}
}
