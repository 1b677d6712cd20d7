package audit

import (
	"os"
	"runtime"
	"strconv"
)

// ExeOf returns the path of process pid's executable, best effort: on Linux
// it reads the /proc/<pid>/exe link; elsewhere, or if the process is gone or
// not ours to inspect, it returns "". A binary replaced since it started
// (an upgrade) reads as "<path> (deleted)", which is kept: it is what ran.
// Call it while the caller is still connected, before its pid can be reused.
func ExeOf(pid int) string {
	if pid <= 0 || (runtime.GOOS != "linux" && runtime.GOOS != "android") {
		return ""
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return ""
	}
	return exe
}
