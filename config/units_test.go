package config

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false},
		{"300ms", 300 * time.Millisecond, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"5x", 0, true},
		{"5 minutes", 0, true},
		{"300", 0, true},
		{"-5s", 0, true},
		{"-1d", 0, true},
		{"+5s", 0, true},
		{"d", 0, true},
		{"1.5d", 0, true},
		{"99999999d", 0, true},
		{"[1s]", 0, true},
	} {
		var d Duration
		err := yaml.Unmarshal([]byte("v: "+tc.in), &struct {
			V *Duration `yaml:"v"`
		}{&d})
		if (err != nil) != tc.err || d.D() != tc.want {
			t.Errorf("duration %q = %v, err %v; want %v, error %v", tc.in, d.D(), err, tc.want, tc.err)
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[Duration]string{
		0: "0s", Duration(7 * 24 * time.Hour): "7d", Duration(36 * time.Hour): "36h0m0s", Duration(time.Second): "1s",
	} {
		if got := d.String(); got != want {
			t.Errorf("Duration(%d).String() = %q, want %q", int64(d), got, want)
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", d.String(), back, err, d)
		}
	}
}

func TestByteSizeUnmarshal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  bool
	}{
		{"1024", 1024, false},
		{"0", 0, false},
		{"64KiB", 64 << 10, false},
		{"8MiB", 8 << 20, false},
		{"1GiB", 1 << 30, false},
		{"8mib", 8 << 20, false},
		{"1 GiB", 1 << 30, false},
		{"64KB", 64000, false},
		{"2MB", 2000000, false},
		{"1gb", 1000000000, false},
		{"10B", 10, false},
		{"-1", 0, true},
		{"-1KiB", 0, true},
		{"1.5MiB", 0, true},
		{"lots", 0, true},
		{"5XB", 0, true},
		{"99999999999TiB", 0, true},
		{"{a: 1}", 0, true},
	} {
		var b ByteSize
		err := yaml.Unmarshal([]byte("v: "+tc.in), &struct {
			V *ByteSize `yaml:"v"`
		}{&b})
		if (err != nil) != tc.err || b.Int64() != tc.want {
			t.Errorf("size %q = %d, err %v; want %d, error %v", tc.in, b.Int64(), err, tc.want, tc.err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	for b, want := range map[ByteSize]string{0: "0", 1000: "1000", 256 << 20: "256MiB", 3072: "3KiB", 1536: "1536"} {
		if got := b.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(b), got, want)
		}
	}
}
