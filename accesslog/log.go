package accesslog

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// QueueLength is how many records wait for the access log's writer; past
// it records are dropped and counted (Dropped), so that a slow disk or a
// blocked pipe never holds a request.
const QueueLength = 8192

// Settings are the access log's format and destination.
type Settings struct {
	// Enabled opens Output; when false nothing is open.
	Enabled bool
	// Format is FormatJSON or FormatCombined.
	Format string
	// Output is "stdout", "stderr" or a file path (opened for appending).
	Output string
}

// Log writes records on a goroutine of its own: a request hands its
// record over a bounded channel (Write) and goes on. The writer buffers
// and flushes when the queue is empty, so that a burst costs a few writes
// and a quiet log is written at once.
type Log struct {
	queue   chan *Record
	control chan func()
	stop    chan struct{}
	done    chan struct{}
	dropped atomic.Uint64
	stdout  io.Writer
	stderr  io.Writer

	// Owned by run.
	settings Settings
	out      *bufio.Writer
	dst      io.Writer // what out writes to
	file     *os.File
	buf      []byte
	pending  uint64 // records in out's buffer, not yet flushed
}

// Open starts the access log with s; stdout and stderr are the writers
// "stdout" and "stderr" name. Close stops it.
func Open(s Settings, stdout, stderr io.Writer) (*Log, error) {
	l := &Log{
		queue: make(chan *Record, QueueLength), control: make(chan func()),
		stop: make(chan struct{}), done: make(chan struct{}), stdout: stdout, stderr: stderr,
	}
	w, f, err := l.open(s)
	if err != nil {
		return nil, err
	}
	l.install(s, w, f)
	go l.run()
	return l, nil
}

// Write queues r for writing, or drops it when the queue is full.
func (l *Log) Write(r *Record) {
	select {
	case l.queue <- r:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many records were not written: the queue was full, or
// the destination failed.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Configure applies s (a reload): what is queued is written to the old
// destination, then the new one takes over. A file that cannot be opened
// is an error and the old settings stay.
func (l *Log) Configure(s Settings) error {
	w, f, err := l.open(s)
	if err != nil {
		return err
	}
	l.do(func() { l.install(s, w, f) })
	return nil
}

// Reopen opens the output file again, under its name (SIGUSR1, after
// logrotate moved it); stdout and stderr are kept.
func (l *Log) Reopen() error {
	var err error
	l.do(func() {
		if l.file == nil {
			return
		}
		var w io.Writer
		var f *os.File
		if w, f, err = l.open(l.settings); err == nil {
			l.install(l.settings, w, f)
		}
	})
	return err
}

// Close writes what is queued and closes the output.
func (l *Log) Close() error {
	close(l.stop)
	<-l.done
	return nil
}

// do runs f on the writer's goroutine, after what is queued now is
// written, and waits for it.
func (l *Log) do(f func()) {
	ran := make(chan struct{})
	l.control <- func() { l.drain(); f(); close(ran) }
	<-ran
}

// open returns the writer s names, and the file when it is one.
func (l *Log) open(s Settings) (io.Writer, *os.File, error) {
	switch {
	case !s.Enabled:
		return nil, nil, nil
	case s.Output == "stdout":
		return l.stdout, nil, nil
	case s.Output == "stderr":
		return l.stderr, nil, nil
	}
	f, err := os.OpenFile(s.Output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("access log: %w", err)
	}
	return f, f, nil
}

// install flushes and closes the current output and makes w (file f, when
// it is one) the output of s.
func (l *Log) install(s Settings, w io.Writer, f *os.File) {
	l.flush()
	if l.file != nil {
		l.file.Close()
	}
	l.settings, l.file, l.out, l.dst = s, f, nil, w
	if w != nil {
		l.out = bufio.NewWriterSize(w, 64<<10)
	}
}

// run writes records until Close.
func (l *Log) run() {
	defer close(l.done)
	for {
		select {
		case r := <-l.queue:
			l.write(r)
			if len(l.queue) == 0 {
				l.flush()
			}
		case f := <-l.control:
			f()
		case <-l.stop:
			l.drain()
			l.install(Settings{}, nil, nil)
			return
		}
	}
}

// drain writes every queued record and flushes.
func (l *Log) drain() {
	for {
		select {
		case r := <-l.queue:
			l.write(r)
		default:
			l.flush()
			return
		}
	}
}

func (l *Log) write(r *Record) {
	if l.out == nil {
		return // disabled by a reload while the record was queued
	}
	l.buf = Append(l.buf[:0], l.settings.Format, r)
	if len(l.buf) > l.out.Available() {
		l.flush() // so that a record is never split between two writes
	}
	if _, err := l.out.Write(l.buf); err != nil {
		l.dropped.Add(1) // a record larger than the buffer, written at once
		l.out.Reset(l.dst)
		return
	}
	if l.out.Buffered() > 0 {
		l.pending++ // else it was larger than the buffer and is written
	}
}

// flush writes the buffered records; when the output fails (a full disk)
// they are lost, and counted as dropped.
func (l *Log) flush() {
	if l.out != nil && l.out.Flush() != nil {
		l.dropped.Add(l.pending)
		l.out.Reset(l.dst) // bufio keeps the error: forget it and what it held
	}
	l.pending = 0
}
