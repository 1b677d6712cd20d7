package server

import "net/http"

// HandleForTest adds a route to the server's mux, behind the same guard
// and panic recovery as the real ones.
func (s *Server) HandleForTest(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }
