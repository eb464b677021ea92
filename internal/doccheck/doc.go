// Package doccheck holds the test that compiles the Go code blocks of the
// repository's documentation (README.md and every docs/**/*.md page), so
// that the API shown to module authors is the API that exists. It has no
// non-test code.
//
// How a ```go block is checked (a page added under docs/ is picked up
// automatically):
//
//   - A block with a package clause is a complete file: it is compiled as
//     its own package.
//   - Otherwise, a block that parses as package-level declarations (types,
//     functions, vars, imports) is compiled as the body of a file of its
//     own package; a block that does not is taken as statements and
//     wrapped in a function. Variables a statement block declares with :=
//     and does not use again are used for it.
//   - Imports are added for the package names the block uses: the
//     standard library packages a snippet usually needs and every
//     non-internal package of this repository (by its package name).
//   - An HTML comment on the last non-blank line before the fence adjusts
//     this. <!-- doccheck: var ctx context.Context; logger *slog.Logger -->
//     declares what the snippet assumes, as package-level declarations:
//     pieces separated by ";", each starting with var, const or type (or
//     continuing the previous piece's kind), e.g.
//     <!-- doccheck: type Options struct{ HostRoot string }; var newC func(Options) collector.Collector -->.
//     <!-- doccheck: skip REASON --> leaves a block out (say why, e.g. it
//     quotes a declaration of a package).
//
// Every block is then type-checked and vetted (go vet) in a temporary
// module joined to this one by a go.work file; errors point at the page
// and line through //line directives.
package doccheck
