package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the JSON type of a [Node].
type Kind uint8

// JSON kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Node is one JSON value of a manifest with the JSON pointer where it
// was found and its byte offset in the file. Values embedded in a JSON
// string (createOptions given as a string) share the pointer and offset of
// that string and carry their path inside it in Inner.
type Node struct {
	Kind Kind
	// Pointer is the RFC 6901 JSON pointer of the value in the manifest.
	Pointer string
	// Inner is the pointer inside an embedded JSON document (a
	// createOptions string), or "" for values of the manifest itself.
	Inner string
	// Offset is the byte offset of the value (or of the enclosing string)
	// in the manifest, or -1 when unknown (synthesised values).
	Offset int

	Str  string // String, and the text of a Number
	Bool bool

	Keys  []string         // Object: keys in document order
	Props map[string]*Node // Object
	Items []*Node          // Array
}

// Get returns the member of an object named key, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Object {
		return nil
	}
	return n.Props[key]
}

// GetFold returns the member of an object whose name matches key
// case-insensitively, as Docker and IoT Edge match createOptions keys. An
// exact match wins.
func (n *Node) GetFold(key string) *Node {
	if n == nil || n.Kind != Object {
		return nil
	}
	if v, ok := n.Props[key]; ok {
		return v
	}
	for _, k := range n.Keys {
		if strings.EqualFold(k, key) {
			return n.Props[k]
		}
	}
	return nil
}

// Text returns the string value, the text of a number or of a boolean,
// and "" for other kinds.
func (n *Node) Text() string {
	if n == nil {
		return ""
	}
	switch n.Kind {
	case String, Number:
		return n.Str
	case Bool:
		return strconv.FormatBool(n.Bool)
	}
	return ""
}

// Where describes the value for messages: its pointer and, for values
// embedded in a string, the path inside it.
func (n *Node) Where() string {
	if n == nil {
		return ""
	}
	if n.Inner != "" {
		return n.Pointer + " (" + n.Inner + ")"
	}
	return n.Pointer
}

// Limits bound what a loader accepts, so that a hostile file cannot
// exhaust memory or the stack.
type Limits struct {
	MaxBytes int // largest document; default 4 MiB
	MaxDepth int // deepest nesting; default 64
	MaxNodes int // most values; default 200000
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 4 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = 200000
	}
	return l
}

// SyntaxError is a JSON syntax problem at a byte offset, with its line
// and column (1-based, columns counted in Unicode code points).
type SyntaxError struct {
	Offset       int
	Line, Column int
	Msg          string
}

// Error implements error: "line L, column C: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

type treeParser struct {
	data   []byte
	dec    *json.Decoder
	lim    Limits
	nodes  int
	inner  bool   // parsing an embedded document
	base   string // pointer of the embedding string
	offset int    // offset of the embedding string
}

// parseTree parses data into a Node tree rooted at pointer base. When
// embedded is true, every node gets pointer base and offset off, and its
// path inside the document in Inner.
func parseTree(data []byte, lim Limits, base string, embedded bool, off int) (*Node, error) {
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("document is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)
	}
	p := &treeParser{data: data, lim: lim, inner: embedded, base: base, offset: off}
	p.dec = json.NewDecoder(bytes.NewReader(data))
	p.dec.UseNumber()
	root, err := p.value("", 0)
	if err != nil {
		return nil, p.syntax(err)
	}
	if _, err := p.dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("unexpected data after the top-level value")
		}
		return nil, p.syntax(err)
	}
	return root, nil
}

func (p *treeParser) syntax(err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		return err
	}
	off := int(p.dec.InputOffset())
	msg := err.Error()
	var jse *json.SyntaxError
	if errors.As(err, &jse) {
		off = int(jse.Offset) // the decoder reports the offending character's offset
		msg = jse.Error()
	} else if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of JSON input"
	}
	if off > len(p.data) {
		off = len(p.data)
	}
	if bytes.HasPrefix(bytes.TrimLeft(p.data[off:], " \t\r\n"), []byte("/")) {
		msg += " (comments are not allowed in a deployment manifest; IoT Hub rejects them)"
	}
	line, col := lineCol(p.data, off)
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: msg}
}

// start returns the offset of the next value token.
func (p *treeParser) start() int {
	i := int(p.dec.InputOffset())
	for i < len(p.data) {
		switch p.data[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
			continue
		}
		break
	}
	return i
}

func (p *treeParser) mk(kind Kind, ptr string, off int) (*Node, error) {
	p.nodes++
	if p.nodes > p.lim.MaxNodes {
		return nil, &SyntaxError{Offset: off, Msg: fmt.Sprintf("more than %d JSON values", p.lim.MaxNodes)}
	}
	n := &Node{Kind: kind}
	if p.inner {
		n.Pointer, n.Inner, n.Offset = p.base, ptr, p.offset
		if n.Inner == "" {
			n.Inner = "/"
		}
	} else {
		n.Pointer, n.Offset = p.base+ptr, off
	}
	return n, nil
}

func (p *treeParser) value(ptr string, depth int) (*Node, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	return p.fromToken(tok, ptr, depth, off)
}

func (p *treeParser) fromToken(tok json.Token, ptr string, depth, off int) (*Node, error) {
	if depth > p.lim.MaxDepth {
		line, col := lineCol(p.data, off)
		return nil, &SyntaxError{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf("nesting deeper than %d levels", p.lim.MaxDepth)}
	}
	switch t := tok.(type) {
	case nil:
		return p.mk(Null, ptr, off)
	case bool:
		n, err := p.mk(Bool, ptr, off)
		if err == nil {
			n.Bool = t
		}
		return n, err
	case json.Number:
		n, err := p.mk(Number, ptr, off)
		if err == nil {
			n.Str = string(t)
		}
		return n, err
	case string:
		n, err := p.mk(String, ptr, off)
		if err == nil {
			n.Str = t
		}
		return n, err
	case json.Delim:
		switch t {
		case '{':
			n, err := p.mk(Object, ptr, off)
			if err != nil {
				return nil, err
			}
			n.Props = map[string]*Node{}
			for p.dec.More() {
				koff := p.start()
				kt, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string at offset %d", koff)
				}
				child, err := p.value(ptr+"/"+escapePointer(k), depth+1)
				if err != nil {
					return nil, err
				}
				if _, dup := n.Props[k]; !dup {
					n.Keys = append(n.Keys, k)
				}
				n.Props[k] = child // the last duplicate wins, as in encoding/json and Newtonsoft
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		case '[':
			n, err := p.mk(Array, ptr, off)
			if err != nil {
				return nil, err
			}
			for i := 0; p.dec.More(); i++ {
				child, err := p.value(ptr+"/"+strconv.Itoa(i), depth+1)
				if err != nil {
					return nil, err
				}
				n.Items = append(n.Items, child)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, err
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// escapePointer escapes one reference token of a JSON pointer.
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// lineCol converts a byte offset to a 1-based line and column, the
// column counted in Unicode code points.
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		return 0, 0
	}
	head := data[:off]
	line = bytes.Count(head, []byte{'\n'}) + 1
	ls := bytes.LastIndexByte(head, '\n') + 1
	col = utf8.RuneCount(head[ls:]) + 1
	return line, col
}
