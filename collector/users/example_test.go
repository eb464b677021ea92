package users_test

import (
	"context"
	"fmt"

	"github.com/edgesec/edgesec/collector/users"
	"github.com/edgesec/edgesec/event"
)

// Take one LocalUsers snapshot of a host whose filesystem is at a given
// root (a test fixture here; "/host" in a container, "/" on the host).
func Example() {
	p := users.New(users.Options{HostRoot: "testdata/hostroot-debian"})
	evs, err := p.Poll(context.Background())
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, ev := range evs {
		for _, it := range ev.Payload {
			u := it.(*event.LocalUsersPayload)
			x := u.ExtraDetails
			if x[users.KeyLoginShell] == "true" {
				fmt.Printf("%s uid=%s groups=%s password=%s%s%s\n", u.UserName, u.UserID, u.GroupNames,
					x[users.KeyPasswordState], flag(x, users.KeyUID0NotRoot), flag(x, users.KeyEmptyPasswordLogin))
			}
		}
	}
	// Output:
	// root uid=0 groups=root password=set
	// aziotid uid=996 groups=aziotid;aziotks password=locked
	// iotedge uid=994 groups=iotedge;aziotid;aziotks;docker password=locked
	// alice uid=1000 groups=alice;adm;sudo;users;docker password=set
	// toor uid=0 groups=root;sudo password=set Uid0NotRoot
	// guest uid=1001 groups=guest;users password=empty EmptyPasswordLogin
	// legacy uid=1002 groups=2000 password=set
}

func flag(x event.ExtraDetails, key string) string {
	if x[key] == "true" {
		return " " + key
	}
	return ""
}
