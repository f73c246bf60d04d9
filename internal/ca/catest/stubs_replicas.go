package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The replica directory is not used by CA tests.

func (*tx) PutReplica(*lanyard.Replica) error { return notImplemented("PutReplica") }
func (*tx) HeartbeatReplica(string, time.Time, time.Time) error {
	return notImplemented("HeartbeatReplica")
}
func (*tx) DeleteReplica(string) error { return notImplemented("DeleteReplica") }
func (*tx) LiveReplicas(time.Time) ([]*lanyard.Replica, error) {
	return nil, notImplemented("LiveReplicas")
}
func (*tx) ReplicaByClientSerial(string, time.Time) (*lanyard.Replica, error) {
	return nil, notImplemented("ReplicaByClientSerial")
}
func (*tx) PurgeReplicas(time.Time) (int, error) { return 0, notImplemented("PurgeReplicas") }
func (*tx) PutAgentRoute(*lanyard.AgentRoute) (bool, error) {
	return false, notImplemented("PutAgentRoute")
}
func (*tx) DeleteAgentRoute(int64, string, int64) (bool, error) {
	return false, notImplemented("DeleteAgentRoute")
}
func (*tx) LiveAgentRoutes(lanyard.AgentRouteFilter, time.Time) ([]*lanyard.AgentRoute, error) {
	return nil, notImplemented("LiveAgentRoutes")
}
func (*tx) ListReplicas() ([]*lanyard.Replica, error) { return nil, notImplemented("ListReplicas") }
func (*tx) AgentRouteCounts() (map[string]map[lanyard.WorkstationRole]int, error) {
	return nil, notImplemented("AgentRouteCounts")
}
