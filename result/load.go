package result

import (
	"maps"
	"slices"
	"strings"
)

// WaitCPU is the load key of an active session that waits on nothing: it is on a CPU, or in the
// run queue for one (Performance Insights counts it the same way).
const WaitCPU = "CPU"

// Usage is the CPU and memory of both sides in one second, read by the sampler. CPU figures are
// CPUs kept busy: CPU-seconds used in the second.
type Usage struct {
	// ServerCPU and ServerMemoryMB are absent where they cannot be read (a dsn target): never 0
	// for unknown.
	ServerCPU      *float64 `json:"server_cpu,omitempty"`
	ServerMemoryMB *float64 `json:"server_memory_mb,omitempty"`
	// ClientCPU is the load generator's own process, and its child that runs the load when there
	// is one (pgbench).
	ClientCPU float64 `json:"client_cpu"`
	// HostCPU is every process on the load generator's host (the server too, on a local or
	// docker target); absent without /proc.
	HostCPU   *float64 `json:"host_cpu,omitempty"`
	HostLoad1 float64  `json:"host_load1"`
	// ClientHostCPU is every process on the CPUs the load generator may run on, when it is
	// pinned to some of the host's (taskset).
	ClientHostCPU *float64 `json:"client_host_cpu,omitempty"`
}

// Resources says what the server and the load generator could use, and where the usage figures
// come from.
type Resources struct {
	// ServerCPUs is the CPUs the server may use: the shape's limit, else the host's. 0: unknown.
	ServerCPUs float64 `json:"server_cpus,omitempty"`
	// ServerSource is where server CPU and memory are read ("/proc: ...", "the container's
	// cgroup"); ServerUnavailable says why they are absent when they are.
	ServerSource      string `json:"server_source,omitempty"`
	ServerUnavailable string `json:"server_unavailable,omitempty"`
	// ClientCPUs is the load generator's GOMAXPROCS, HostCPUs its host's CPUs.
	ClientCPUs int `json:"client_cpus"`
	HostCPUs   int `json:"host_cpus"`
	// ClientAllowedCPUs is how many of the host's CPUs the load generator may run on, when
	// pinned to fewer than all (taskset); 0 otherwise.
	ClientAllowedCPUs int `json:"client_allowed_cpus,omitempty"`
	// WaitSamplesPerS is how often pg_stat_activity was read for the database load.
	WaitSamplesPerS int `json:"wait_samples_per_s"`
}

// WaitClass is the class of a load key: "CPU", or the wait_event_type of "type:event".
func WaitClass(key string) string {
	class, _, _ := strings.Cut(key, ":")
	return class
}

// LoadByClass sums a second's load (average active sessions by wait event) by wait class.
func LoadByClass(load map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range load {
		out[WaitClass(k)] += v
	}
	return out
}

// SortedLoadKeys are the keys of a load, largest first (ties by name).
func SortedLoadKeys(load map[string]float64) []string {
	keys := slices.Collect(maps.Keys(load))
	slices.SortFunc(keys, func(a, b string) int {
		if load[a] != load[b] {
			if load[a] > load[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}
