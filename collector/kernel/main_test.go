package kernel

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// helperEnv makes the test binary a helper process (see TestMain): the
// programs ignore the collector's own process, so the processes and
// connections a test observes are made by a child.
const helperEnv = "EDGESEC_KERNEL_TEST_HELPER"

func TestMain(m *testing.M) {
	if args := os.Getenv(helperEnv); args != "" {
		if ok, err := udpHelper(args); ok {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			os.Exit(0)
		}
		if ok, err := activityHelper(args); ok {
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			os.Exit(0)
		}
		if err := helper(args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helper "conns N network": listen on loopback, then N times connect,
// accept and close both ends at once. It prints the listening port first.
func helper(args string) error {
	var n int
	var network string
	if _, err := fmt.Sscanf(args, "conns %d %s", &n, &network); err != nil {
		return fmt.Errorf("helper %q: %w", args, err)
	}
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for range n {
		c, err := net.Dial(network, ln.Addr().String())
		if err != nil {
			return err
		}
		s, err := ln.Accept()
		if err != nil {
			return err
		}
		c.Close()
		s.Close()
	}
	return nil
}

// runHelper runs the conns helper and returns its pid and port.
func runHelper(t testing.TB, n int, network string) (pid, port int) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=conns "+strconv.Itoa(n)+" "+network)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	var p int
	if _, err := fmt.Sscan(string(out), &p); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	return cmd.Process.Pid, p
}
