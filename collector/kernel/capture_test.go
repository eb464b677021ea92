package kernel

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
)

// TestCaptureFixtures rewrites testdata/*.bin with real records of this
// kernel when EDGESEC_KERNEL_CAPTURE is set (as root):
//
//	EDGESEC_KERNEL_CAPTURE=1 go test -run TestCaptureFixtures ./collector/kernel
func TestCaptureFixtures(t *testing.T) {
	if os.Getenv("EDGESEC_KERNEL_CAPTURE") == "" {
		t.Skip("set EDGESEC_KERNEL_CAPTURE=1 to rewrite the fixtures from this kernel")
	}
	l, err := load(Options{Connections: true, Activity: true}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	rd, err := ringbuf.NewReader(l.events)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := exec.Command("/bin/sh", "-c", "/bin/true edgesec-fixture 'two words'; kill -KILL $$").Run(); err == nil {
		t.Fatal("sh was not killed")
	}
	if err := exec.Command("/bin/cat", "/etc/shadow").Run(); err != nil {
		t.Fatal(err)
	}
	runHelper(t, 1, "tcp6")
	runHelper(t, 1, "tcp4")
	rcv, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rcv.Close()
	udp := exec.Command(os.Args[0])
	udp.Env = append(os.Environ(), fmt.Sprintf(`%s=udp {"Net":"4","SendTo":%d}`, helperEnv, rcv.LocalAddr().(*net.UDPAddr).Port))
	if out, err := udp.CombinedOutput(); err != nil {
		t.Fatalf("udp helper: %v: %s", err, out)
	}

	want := map[uint32]string{recExec: "exec", recExit: "exit_signal", recFork: "fork", recConnect: "connect6", recAccept: "accept4", recActivity: "activity_open", recUDP: "udp4"}
	rd.SetDeadline(time.Now().Add(2 * time.Second))
	var r record
	for len(want) > 0 {
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("missing fixtures %v: %v", want, err)
		}
		if parseRecord(rec.RawSample, &r) != nil {
			continue
		}
		name, ok := want[r.Type]
		if !ok {
			continue
		}
		switch {
		case r.Type == recExec && r.Exec.Filename != "/bin/true",
			r.Type == recExit && (r.Comm != "sh" || r.Code != 9),
			r.Type == recConnect && r.Conn.Family != afINET6,
			r.Type == recAccept && r.Conn.Family != afINET,
			r.Type == recUDP && r.Conn.Family != afINET,
			r.Type == recActivity && (r.Act.Kind != actOpen || r.Act.Path != "/etc/shadow"):
			continue
		}
		delete(want, r.Type)
		if err := os.WriteFile(filepath.Join("testdata", name+".bin"), rec.RawSample, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
