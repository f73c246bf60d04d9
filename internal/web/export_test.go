package web

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// RouteInfo is one route of the table as the authorization test sees it.
type RouteInfo struct {
	Method, Path string
	Public       bool
	Roles        []lanyard.Role // nil: any authenticated caller
}

// RouteInfos lists the server's API routes with their access rules.
func RouteInfos(s *Server) []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{Method: rt.method, Path: rt.path, Public: rt.public, Roles: rt.roles}
	}
	return out
}

// RSSAlso names the routes of other files that accept a Remote
// Self-Service session (rss.go).
var RSSAlso = rssAlso
