package redistest

// NewWithArgs is New with more redis-server flags after the common ones,
// e.g. "--requirepass", "secret" for a server that wants a password.
func NewWithArgs(args ...string) (*Server, error) {
	return newServer(func(int, string) ([]string, error) { return args, nil })
}
