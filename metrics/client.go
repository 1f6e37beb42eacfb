package metrics

import "github.com/prometheus/client_golang/prometheus"

// Reasons passed to ClientError: the client_limits a request broke.
const (
	// ClientBodyTimeout: the body stalled or trickled (408).
	ClientBodyTimeout = "body-timeout"
	// ClientBodyTooLarge: the body was larger than max_body_bytes (413).
	ClientBodyTooLarge = "body-too-large"
	// ClientBodyMalformed: the body could not be read, such as bad
	// chunked framing (400).
	ClientBodyMalformed = "body-malformed"
	// ClientHeaderTooLarge: the header was larger than max_header_bytes
	// (431).
	ClientHeaderTooLarge = "header-too-large"
)

var clientErrorReasons = []string{ClientBodyTimeout, ClientBodyTooLarge, ClientBodyMalformed, ClientHeaderTooLarge}

func (m *Metrics) registerClientErrors() {
	m.clientErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cachegate_client_errors_total",
		Help: "Requests refused for their body or header, by reason (body-timeout, body-too-large, body-malformed, header-too-large).",
	}, []string{"reason"})
	for _, r := range clientErrorReasons {
		m.clientErrors.WithLabelValues(r)
	}
	m.reg.MustRegister(m.clientErrors)
}

// ClientError counts one request refused for reason.
func (m *Metrics) ClientError(reason string) {
	if m == nil {
		return
	}
	m.clientErrors.WithLabelValues(reason).Inc()
}
