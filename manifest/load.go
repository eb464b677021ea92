package manifest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Error is a problem with a manifest at a JSON pointer.
type Error struct {
	// Pointer is the JSON pointer of the offending value ("" for the
	// whole document).
	Pointer string
	// Inner is the path inside an embedded JSON string (createOptions),
	// or "".
	Inner string
	// Line and Column locate the problem in the file (1-based); 0 when
	// unknown.
	Line, Column int
	// Err is the problem.
	Err error
}

// Error implements error: the position, the JSON pointer and the problem.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	if e.Pointer != "" {
		b.WriteString(e.Pointer)
		if e.Inner != "" {
			b.WriteString(" (at " + e.Inner + ")")
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the problem, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// LoadOptions tune Load. The zero value is ready to use.
type LoadOptions struct {
	Limits Limits
}

// LoadFile reads and loads the manifest at path ("-" reads standard input
// via r when r is not nil). The file is read up to the size limit only.
func LoadFile(path string, o LoadOptions) (*Deployment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	return LoadReader(f, path, o)
}

// LoadReader reads a manifest from r (at most the size limit plus one
// byte) and loads it with source name source.
func LoadReader(r io.Reader, source string, o LoadOptions) (*Deployment, error) {
	lim := o.Limits.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, int64(lim.MaxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: read %s: %w", source, err)
	}
	if len(data) > lim.MaxBytes {
		return nil, fmt.Errorf("manifest: %s is larger than the limit of %d bytes", source, lim.MaxBytes)
	}
	return Load(data, source, o)
}

// Load parses an IoT Edge deployment manifest: a document with a
// modulesContent object (at the top, under "content", or the legacy
// "moduleContent"), or a bare modulesContent object. It accepts $edgeAgent
// schema 1.0 and 1.1, layered deployments (properties.desired.modules.x
// keys, and deeper paths such as properties.desired.modules.x.settings.
// createOptions01), templates with unresolved ${VAR} / $VAR placeholders, and
// createOptions as an object, a JSON string or chunked strings
// (createOptions01 …).
//
// Every problem found is returned, joined; each is an [*Error] carrying
// the JSON pointer (and line and column) of the offending value, or a
// [*SyntaxError] for a file that is not JSON. Load never panics and
// bounds memory by o.Limits. On error the Deployment is nil.
func Load(data []byte, source string, o LoadOptions) (*Deployment, error) {
	root, err := parseTree(data, o.Limits, "", false, 0)
	if err != nil {
		return nil, fmt.Errorf("manifest: %s: %w", source, err)
	}
	l := &loader{data: data, lim: o.Limits, d: &Deployment{Source: source, Data: data, Root: root}}
	l.load(root)
	if len(l.errs) > 0 {
		return nil, fmt.Errorf("manifest: %s: %w", source, errors.Join(l.errs...))
	}
	return l.d, nil
}

type loader struct {
	data []byte
	lim  Limits
	d    *Deployment
	errs []error
}

func (l *loader) fail(n *Node, format string, args ...any) {
	e := &Error{Err: fmt.Errorf(format, args...)}
	if n != nil {
		e.Pointer, e.Inner = n.Pointer, n.Inner
		if n.Offset >= 0 {
			e.Line, e.Column = lineCol(l.data, n.Offset)
		}
	}
	l.errs = append(l.errs, e)
}

func kindName(k Kind) string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

// want checks that n (when present) is of kind k.
func (l *loader) want(n *Node, k Kind, what string) bool {
	if n == nil {
		return false
	}
	if n.Kind != k {
		l.fail(n, "%s must be %s, not %s", what, kindName(k), kindName(n.Kind))
		return false
	}
	return true
}

// str returns the string at n, accepting numbers and booleans too (IoT
// Edge accepts "version": 1.0), and failing on other kinds.
func (l *loader) str(n *Node, what string) Setting[string] {
	if n == nil || n.Kind == Null {
		return Setting[string]{}
	}
	switch n.Kind {
	case String, Number, Bool:
		return Setting[string]{Value: n.Text(), Node: n}
	}
	l.fail(n, "%s must be a string, not %s", what, kindName(n.Kind))
	return Setting[string]{}
}

func findModulesContent(root *Node) *Node {
	if root.Kind != Object {
		return nil
	}
	for _, c := range []*Node{root, root.Get("content"), root.Get("properties").Get("content")} {
		if c == nil {
			continue
		}
		for _, k := range []string{"modulesContent", "moduleContent"} {
			if mc := c.Get(k); mc != nil {
				return mc
			}
		}
	}
	if root.Get("$edgeAgent") != nil || root.Get("$edgeHub") != nil {
		return root
	}
	return nil
}

func (l *loader) load(root *Node) {
	if root.Kind != Object {
		l.fail(root, "a deployment manifest is a JSON object, not %s", kindName(root.Kind))
		return
	}
	mc := findModulesContent(root)
	if mc == nil {
		l.fail(root, "no modulesContent object: this is not an IoT Edge deployment manifest")
		return
	}
	if !l.want(mc, Object, "modulesContent") {
		return
	}
	agent := mc.Get("$edgeAgent")
	layeredAgent := false
	if agent != nil {
		var desired *Node
		desired, layeredAgent = l.desired(agent, "$edgeAgent", []string{"modules", "systemModules", "runtime"})
		if desired != nil {
			l.agent(desired, layeredAgent)
		}
	}
	if hub := mc.Get("$edgeHub"); hub != nil {
		desired, layered := l.desired(hub, "$edgeHub", []string{"routes"})
		if desired != nil {
			l.hub(desired)
		}
		layeredAgent = layeredAgent || layered
	}
	if agent == nil && !layeredAgent && mc.Get("$edgeHub") == nil {
		l.fail(mc, "modulesContent has neither $edgeAgent nor $edgeHub")
	}
	l.d.Layered = layeredAgent || (agent == nil && l.d.Hub != nil)
	for _, k := range mc.Keys {
		if strings.HasPrefix(k, "$") {
			continue
		}
		desired, _ := l.desired(mc.Props[k], "the twin of "+k, nil)
		if desired != nil {
			l.d.Twins = append(l.d.Twins, &Twin{Module: k, Desired: desired})
		}
	}
	slices.SortFunc(l.d.Twins, func(a, b *Twin) int { return strings.Compare(a.Module, b.Module) })
}

// desired returns the desired properties of a twin in modulesContent,
// merging the full form ("properties.desired": {…}) with the layered
// form ("properties.desired.a.b": …). collections names the keys whose
// members are named things (module names may contain dots).
func (l *loader) desired(twin *Node, what string, collections []string) (*Node, bool) {
	if !l.want(twin, Object, what) {
		return nil, false
	}
	view := &Node{Kind: Object, Pointer: twin.Pointer, Offset: twin.Offset, Props: map[string]*Node{}}
	views := map[*Node]bool{view: true} // objects built here, safe to add to
	layered := false
	for _, k := range twin.Keys {
		v := twin.Props[k]
		switch {
		case k == "properties.desired":
			if !l.want(v, Object, what+" properties.desired") {
				continue
			}
			view.Pointer, view.Offset = v.Pointer, v.Offset
			for _, ck := range v.Keys {
				setMember(view, ck, v.Props[ck])
			}
		case strings.HasPrefix(k, "properties.desired."):
			layered = true
			rest := strings.TrimPrefix(k, "properties.desired.")
			var path []string
			head, tail, ok := strings.Cut(rest, ".")
			if ok && slices.Contains(collections, head) {
				path = append([]string{head}, memberPath(tail)...)
			} else if collections != nil {
				path = strings.Split(rest, ".")
			} else {
				path = []string{rest} // twin properties: keep the name whole
			}
			parent := view
			for _, seg := range path[:len(path)-1] {
				next := parent.Props[seg]
				switch {
				case next == nil || next.Kind != Object:
					next = &Node{Kind: Object, Pointer: v.Pointer, Offset: v.Offset, Props: map[string]*Node{}}
				case !views[next]:
					// An object of the manifest that a deeper path adds
					// to: merge into a copy, the tree stays as parsed.
					next = &Node{Kind: Object, Pointer: next.Pointer, Offset: next.Offset, Inner: next.Inner,
						Keys: slices.Clone(next.Keys), Props: maps.Clone(next.Props)}
				}
				views[next] = true
				setMember(parent, seg, next)
				parent = next
			}
			setMember(parent, path[len(path)-1], v)
		}
	}
	return view, layered
}

// moduleKeys are the members of a module definition ($edgeAgent schema
// 1.0/1.1): in a layered path they end the module's name.
var moduleKeys = []string{"settings", "env", "type", "status", "restartPolicy", "imagePullPolicy", "version",
	"startupOrder"}

// memberPath splits the path after a collection ("sensor",
// "sensor.settings.createOptions01", "my.dotted.module.env.X.value") into
// the member's name, which may contain dots, and the path inside it, which
// starts at the first module definition key. A layered deployment may set
// a single setting this way ("properties.desired.modules.sensor.settings.
// createOptions01") as well as a whole module.
func memberPath(rest string) []string {
	segs := strings.Split(rest, ".")
	for i := 1; i < len(segs); i++ {
		if slices.Contains(moduleKeys, segs[i]) {
			return append([]string{strings.Join(segs[:i], ".")}, segs[i:]...)
		}
	}
	return []string{rest}
}

func setMember(obj *Node, k string, v *Node) {
	if _, ok := obj.Props[k]; !ok {
		obj.Keys = append(obj.Keys, k)
	}
	obj.Props[k] = v
}

func (l *loader) agent(desired *Node, layered bool) {
	d := l.d
	if sv := desired.Get("schemaVersion"); sv != nil {
		s := l.str(sv, "schemaVersion")
		d.SchemaVersion = s.Value
		if s.Set() && !strings.HasPrefix(s.Value, "1.") && !isPlaceholder(s.Value) {
			l.fail(sv, "unsupported $edgeAgent schemaVersion %q (want 1.0 or 1.1)", s.Value)
		}
	}
	if rt := desired.Get("runtime"); rt != nil && l.want(rt, Object, "runtime") {
		d.Runtime.Node = rt
		d.Runtime.Type = l.str(rt.Get("type"), "runtime.type").Value
		if st := rt.Get("settings"); st != nil && l.want(st, Object, "runtime.settings") {
			d.Runtime.MinDockerVersion = l.str(st.Get("minDockerVersion"), "minDockerVersion").Value
			d.Runtime.LoggingOptions = st.Get("loggingOptions")
			if rc := st.Get("registryCredentials"); rc != nil && rc.Kind != Null && l.want(rc, Object, "registryCredentials") {
				for _, k := range rc.Keys {
					e := rc.Props[k]
					if !l.want(e, Object, "registry credential "+k) {
						continue
					}
					d.Runtime.Registries = append(d.Runtime.Registries, Registry{
						Name: k, Node: e,
						Address:  l.str(e.Get("address"), "address").Value,
						Username: l.str(e.Get("username"), "username").Value,
						Password: l.str(e.Get("password"), "password").Value,
					})
				}
			}
		}
	}
	if sm := desired.Get("systemModules"); sm != nil && sm.Kind != Null && l.want(sm, Object, "systemModules") {
		for _, name := range sm.Keys {
			if m := l.module(name, sm.Props[name], true); m != nil {
				d.Modules = append(d.Modules, m)
			}
		}
	}
	slices.SortStableFunc(d.Modules, func(a, b *Module) int { return strings.Compare(a.Name, b.Name) })
	if mods := desired.Get("modules"); mods != nil && mods.Kind != Null && l.want(mods, Object, "modules") {
		var user []*Module
		for _, name := range mods.Keys {
			if m := l.module(name, mods.Props[name], false); m != nil {
				user = append(user, m)
			}
		}
		slices.SortStableFunc(user, func(a, b *Module) int { return strings.Compare(a.Name, b.Name) })
		d.Modules = append(d.Modules, user...)
	}
	_ = layered
}

func (l *loader) module(name string, n *Node, system bool) *Module {
	if !l.want(n, Object, "module "+name) {
		return nil
	}
	m := &Module{Name: name, System: system, Node: n, CreateOptions: &CreateOptions{}}
	m.Type = l.str(n.Get("type"), "type").Value
	m.Status = l.str(n.Get("status"), "status").Value
	m.RestartPolicy = l.str(n.Get("restartPolicy"), "restartPolicy")
	m.ImagePullPolicy = l.str(n.Get("imagePullPolicy"), "imagePullPolicy").Value
	m.Version = l.str(n.Get("version"), "version").Value
	m.StartupOrder = n.Get("startupOrder")
	if so := m.StartupOrder; so != nil && so.Kind != Number && !(so.Kind == String && isPlaceholder(so.Str)) {
		l.fail(so, "startupOrder must be a number, not %s", kindName(so.Kind))
	}
	if env := n.Get("env"); env != nil && env.Kind != Null && l.want(env, Object, "env") {
		for _, k := range env.Keys {
			e := env.Props[k]
			v := e
			if e.Kind == Object {
				v = e.Get("value")
			}
			if v == nil {
				continue
			}
			s := l.str(v, "env "+k+" value")
			m.Env = append(m.Env, EnvVar{Name: k, Value: s.Value, Node: v})
		}
	}
	st := n.Get("settings")
	if st == nil || st.Kind == Null {
		return m
	}
	if !l.want(st, Object, "settings") {
		return m
	}
	m.Image = l.str(st.Get("image"), "settings.image")
	co, err := createOptionsNode(st, l.lim)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) && pe.Line == 0 && pe.Pointer != "" {
			if cn := st.Get("createOptions"); cn != nil && cn.Offset >= 0 {
				pe.Line, pe.Column = lineCol(l.data, cn.Offset)
			}
		}
		l.errs = append(l.errs, err)
		return m
	}
	if co != nil {
		opts, errs := decodeCreateOptions(co)
		l.errs = append(l.errs, errs...)
		m.CreateOptions = opts
		m.Env = append(m.Env, opts.Env...)
	}
	return m
}

// createOptionsNode returns the parsed create options of a module's
// settings: the createOptions object, or the JSON document of the
// createOptions string concatenated with its createOptions01 … chunks.
// It returns nil, nil when there are none (absent, null, "" or "{}" …).
func createOptionsNode(settings *Node, lim Limits) (*Node, error) {
	co := settings.Get("createOptions")
	var chunks []string
	for _, k := range settings.Keys {
		if patterns().chunkKey.MatchString(k) {
			chunks = append(chunks, k)
		}
	}
	if co == nil || co.Kind == Null {
		if len(chunks) > 0 {
			return nil, &Error{Pointer: settings.Props[chunks[0]].Pointer, Err: errors.New("createOptions chunk without createOptions")}
		}
		return nil, nil
	}
	switch co.Kind {
	case Object:
		if len(chunks) > 0 {
			return nil, &Error{Pointer: co.Pointer, Err: errors.New("chunked createOptions must be strings")}
		}
		return co, nil
	case String:
	default:
		return nil, &Error{Pointer: co.Pointer, Err: fmt.Errorf("createOptions must be an object or a JSON string, not %s", kindName(co.Kind))}
	}
	slices.SortFunc(chunks, func(a, b string) int {
		x, _ := strconv.Atoi(strings.TrimPrefix(a, "createOptions"))
		y, _ := strconv.Atoi(strings.TrimPrefix(b, "createOptions"))
		return x - y
	})
	text := co.Str
	for i, k := range chunks {
		c := settings.Props[k]
		want := fmt.Sprintf("createOptions%02d", i+1)
		if k != want {
			return nil, &Error{Pointer: c.Pointer, Err: fmt.Errorf("createOptions chunks must be numbered without gaps: %s is missing", want)}
		}
		if c.Kind != String {
			return nil, &Error{Pointer: c.Pointer, Err: fmt.Errorf("%s must be a string, not %s", k, kindName(c.Kind))}
		}
		text += c.Str
	}
	return ParseCreateOptions(text, co.Pointer, co.Offset, lim)
}

// ParseCreateOptions parses the text of a createOptions string (the
// concatenation of its chunks) into a tree whose nodes carry pointer and
// offset (those of the createOptions string in the manifest) and their
// path inside the text. Empty text gives nil, nil. A syntax error is an
// [*Error] with the pointer and the position inside the text.
func ParseCreateOptions(text, pointer string, offset int, lim Limits) (*Node, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	n, err := parseTree([]byte(text), lim, pointer, true, offset)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Pointer: pointer, Err: fmt.Errorf("createOptions is not valid JSON: character %d of the string: %s", se.Offset+1, se.Msg)}
		}
		return nil, &Error{Pointer: pointer, Err: fmt.Errorf("createOptions: %w", err)}
	}
	if n.Kind != Object {
		return nil, &Error{Pointer: pointer, Err: fmt.Errorf("createOptions must hold a JSON object, not %s", kindName(n.Kind))}
	}
	return n, nil
}

func (l *loader) hub(desired *Node) {
	h := &Hub{Node: desired}
	l.d.Hub = h
	h.SchemaVersion = l.str(desired.Get("schemaVersion"), "schemaVersion").Value
	h.StoreAndForward = desired.Get("storeAndForwardConfiguration")
	rs := desired.Get("routes")
	if rs == nil || rs.Kind == Null || !l.want(rs, Object, "routes") {
		return
	}
	for _, name := range rs.Keys {
		n := rs.Props[name]
		r := Route{Name: name, Node: n}
		switch n.Kind {
		case String:
			r.Text = n.Str
		case Object: // schema 1.1: {"route": …, "priority": …, "timeToLiveSecs": …}
			rt := n.Get("route")
			if rt == nil || rt.Kind != String {
				l.fail(n, "route %s: the object form needs a \"route\" string", name)
				continue
			}
			r.Text, r.Priority, r.TimeToLiveSecs = rt.Str, n.Get("priority"), n.Get("timeToLiveSecs")
			if r.Priority != nil && r.Priority.Kind != Number {
				l.fail(r.Priority, "route priority must be a number 0-9")
			}
		default:
			l.fail(n, "route %s must be a string or an object, not %s", name, kindName(n.Kind))
			continue
		}
		if m := patterns().route.FindStringSubmatch(r.Text); m != nil {
			r.From, r.Where, r.To = m[1], strings.TrimSpace(m[2]), m[3]
		}
		h.Routes = append(h.Routes, r)
	}
}
