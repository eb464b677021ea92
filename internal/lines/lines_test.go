package lines

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func collect(r *Reader) []string {
	var out []string
	for r.Next() {
		out = append(out, string(r.Line()))
	}
	return out
}

func TestReaderSkipsLongLines(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a\r\n" + long + "\nb\n" + long // the last long line has no newline
	r := NewReader(strings.NewReader(in), 16)
	got := collect(r)
	if strings.Join(got, "|") != "a|b" {
		t.Fatalf("lines %q, want a, b", got)
	}
	if r.TooLong() != 2 || r.Num() != 4 || r.Err() != nil {
		t.Fatalf("tooLong %d num %d err %v; want 2, 4, nil", r.TooLong(), r.Num(), r.Err())
	}
}

func TestReaderLastLineWithoutNewline(t *testing.T) {
	got := collect(NewReader(strings.NewReader("one\ntwo"), 64))
	if strings.Join(got, "|") != "one|two" {
		t.Fatalf("lines %q", got)
	}
}

func TestReaderLineNumbers(t *testing.T) {
	r := NewReader(strings.NewReader("a\n"+strings.Repeat("y", 40)+"\nc\n"), 16)
	var nums []int
	for r.Next() {
		nums = append(nums, r.Num())
	}
	if len(nums) != 2 || nums[0] != 1 || nums[1] != 3 {
		t.Fatalf("line numbers %v, want [1 3] (the skipped line counts)", nums)
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)), 64)
	got := collect(r)
	if len(got) != 1 || !errors.Is(r.Err(), boom) {
		t.Fatalf("lines %q err %v; want [a] and boom", got, r.Err())
	}
}
