package lines_test

import (
	"fmt"
	"strings"

	"github.com/edgesec/edgesec/internal/lines"
)

func Example() {
	in := "root:x:0:0::/root:/bin/sh\n" + strings.Repeat("#", 100) + "\nalice:x:1000:1000::/home/alice:/bin/sh\n"
	r := lines.NewReader(strings.NewReader(in), 64)
	for r.Next() {
		name, _, _ := strings.Cut(string(r.Line()), ":")
		fmt.Println(r.Num(), name)
	}
	fmt.Println("skipped:", r.TooLong(), "err:", r.Err())
	// Output:
	// 1 root
	// 3 alice
	// skipped: 1 err: <nil>
}
