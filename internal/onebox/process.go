package onebox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// spawn starts p detached: in its own process group, so that a Ctrl-C in
// the terminal that ran `pegasus onebox start` does not reach it and it
// outlives the command; with stdout and stderr appended to its log file,
// and its working directory set to its own directory. It records the PID in
// p. exited is closed when the process ends; a goroutine waits for it so
// that it does not linger as a zombie while this process lives.
func spawn(dir string, p *Process) (exited chan struct{}, err error) {
	logPath := filepath.Join(dir, p.LogFile)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("onebox: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "==== onebox: starting %s at %s: %s %q\n", p.Name, time.Now().Format(time.RFC3339), p.Binary, p.Args)

	cmd := exec.Command(p.Binary, p.Args...)
	if p.Netns != "" {
		// ip enters the namespace and execs the binary, so the PID (and
		// the process group set below) is the server's own.
		ip, err := exec.LookPath("ip")
		if err != nil {
			return nil, fmt.Errorf("%w: starting %s in namespace %s: %v", ErrNetNSUnavailable, p.Name, p.Netns, err)
		}
		cmd = exec.Command(ip, append([]string{"netns", "exec", p.Netns, p.Binary}, p.Args...)...)
	}
	cmd.Dir = filepath.Join(dir, p.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %s: %v", ErrBinary, p.Name, err)
	}
	p.PID = cmd.Process.Pid
	exited = make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	return exited, nil
}

// running reports whether pid is a live process running in workDir. The
// working directory tells our process from an unrelated one that reused
// the PID after ours died (say, after a reboot). A zombie is not running.
// Without /proc (not Linux) only existence can be checked.
func running(pid int, workDir string) bool {
	if pid <= 0 {
		return false
	}
	proc := "/proc/" + strconv.Itoa(pid)
	if _, err := os.Stat("/proc/self"); err != nil {
		err := syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	stat, err := os.ReadFile(proc + "/stat")
	if err != nil {
		return false
	}
	// The state letter follows the command name, which is in parentheses
	// and may itself contain spaces or parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		if state := stat[i+2]; state == 'Z' || state == 'X' {
			return false
		}
	}
	cwd, err := os.Readlink(proc + "/cwd")
	if err != nil {
		// The process exists but its cwd is unreadable (another user's,
		// or it is exiting): not one of ours.
		return false
	}
	return cwd == workDir
}

// signalGroup sends sig to the process group led by pid, which includes
// anything the process started.
func signalGroup(pid int, sig syscall.Signal) error {
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		// No such group: the leader changed its group, or is gone.
		err = syscall.Kill(pid, sig)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// waitGone waits until alive reports false, polling, for at most timeout.
func waitGone(alive func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !alive() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail returns the last lines of a log file, for error messages.
func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	data = bytes.TrimRight(data, "\n")
	start := len(data)
	for n := 0; n < lines && start > 0; n++ {
		start = bytes.LastIndexByte(data[:start], '\n')
		if start < 0 {
			start = 0
			break
		}
	}
	return string(bytes.TrimLeft(data[start:], "\n"))
}
