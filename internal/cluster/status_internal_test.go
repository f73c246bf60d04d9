package cluster

import "testing"

// TestHolderReplica: the replica ID is the last part of a holder name
// before the claim's suffix (jobs.ReplicaHolder); other names give none.
func TestHolderReplica(t *testing.T) {
	for holder, want := range map[string]string{
		"host/42/0123abcd#ff00": "0123abcd",
		"host/42/0123abcd":      "0123abcd",
		"a/b/c/d#e/f":           "d",
		"plain":                 "",
		"":                      "",
	} {
		if got := HolderReplica(holder); got != want {
			t.Errorf("HolderReplica(%q) = %q, want %q", holder, got, want)
		}
	}
}
