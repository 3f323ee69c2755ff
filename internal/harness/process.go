package harness

// ProcessStart is process pid's start time in clock ticks since boot (Linux), or "" where it
// cannot be read: with the pid it names one process, even after the pid is reused.
func ProcessStart(pid int) string {
	if st, ok := cleanProcStat(pid); ok {
		return st.start
	}
	return ""
}

// ProcessAlive tells whether process pid exists and, when procStart is known, is the process that
// started then (not a later one given the same pid).
func ProcessAlive(pid int, procStart string) bool { return cleanProcessAlive(pid, procStart) }
