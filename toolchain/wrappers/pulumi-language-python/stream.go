package main

import (
	"io"
	"sync"
)

// streamSender serialises the messages of one server-streaming RPC. A gRPC stream must not be sent on from two
// goroutines at once, and exec.Cmd copies a child's stdout and stderr in separate goroutines.
type streamSender struct {
	mu   sync.Mutex
	send func(stdout, stderr []byte) error
}

func (s *streamSender) do(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

// writers returns an io.Writer for each of the child's stdout and stderr.
func (s *streamSender) writers() (stdout, stderr io.Writer) {
	return streamWriter{s, false}, streamWriter{s, true}
}

type streamWriter struct {
	s      *streamSender
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	// Send marshals the message before it returns, so p need not be copied.
	err := w.s.do(func() error {
		if w.stderr {
			return w.s.send(nil, p)
		}
		return w.s.send(p, nil)
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}
