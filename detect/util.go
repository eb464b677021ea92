package detect

import "path"

func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }
