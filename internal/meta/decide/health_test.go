package decide

import (
	"reflect"
	"testing"
)

func TestHealthOf(t *testing.T) {
	for _, tc := range []struct {
		cfg  string
		want PartitionHealth
	}{
		{"1.0 p=n1 s=n2,n3", PartitionHealth{FullyHealthy: true}},
		{"1.0 p=n1 s=n2,n3,n4", PartitionHealth{FullyHealthy: true}},
		{"1.0 p=n1 s=n2", PartitionHealth{}},                // unhealthy only
		{"1.0 p=n1 s=n2 l=n3", PartitionHealth{}},           // learners do not count
		{"1.0 p=n1", PartitionHealth{WriteUnhealthy: true}}, // one copy
		{"1.0 p=- s=n1,n2", PartitionHealth{WriteUnhealthy: true, ReadUnhealthy: true}},
		{"1.0 p=n1 max=1", PartitionHealth{FullyHealthy: true}}, // as Pegasus counts it
		{"1.0 p=n1 s=n2 max=2", PartitionHealth{FullyHealthy: true}},
	} {
		if got := HealthOf(pc(t, tc.cfg)); got != tc.want {
			t.Errorf("HealthOf(%s) = %+v, want %+v", tc.cfg, got, tc.want)
		}
	}
}

func TestTableHealths(t *testing.T) {
	var cfgs []PartitionConfig
	for _, s := range []string{
		"2.0 p=n1 s=n2,n3", "2.1 p=n1 s=n2", "2.2 p=n1", "2.3 p=- s=n1",
		"1.0 p=n1 s=n2,n3", "1.1 p=n2 s=n1,n3",
	} {
		cfgs = append(cfgs, pc(t, s))
	}
	want := []TableHealth{
		{AppID: 1, PartitionCount: 2, FullyHealthy: 2},
		{AppID: 2, PartitionCount: 4, FullyHealthy: 1, Unhealthy: 3, WriteUnhealthy: 2, ReadUnhealthy: 1},
	}
	if got := TableHealths(cfgs); !reflect.DeepEqual(got, want) {
		t.Fatalf("TableHealths = %+v\nwant %+v", got, want)
	}
}

func TestNodeReplicaCounts(t *testing.T) {
	var cfgs []PartitionConfig
	for _, s := range []string{"1.0 p=n1 s=n2,n3", "1.1 p=n2 s=n1 l=n3", "1.2 p=- s=n4"} {
		cfgs = append(cfgs, pc(t, s))
	}
	want := []NodeReplicas{
		{Node: "n0"}, // known but empty: listed with zeros
		{Node: "n1", PrimaryCount: 1, SecondaryCount: 1, ReplicaCount: 2},
		{Node: "n2", PrimaryCount: 1, SecondaryCount: 1, ReplicaCount: 2},
		{Node: "n3", SecondaryCount: 1, ReplicaCount: 1},
		{Node: "n4", SecondaryCount: 1, ReplicaCount: 1},
	}
	if got := NodeReplicaCounts(cfgs, []string{"n0", "n1"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("NodeReplicaCounts = %+v\nwant %+v", got, want)
	}
}
