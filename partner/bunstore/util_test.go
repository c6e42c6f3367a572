package bunstore_test

import (
	"io/fs"

	"github.com/uptrace/bun/dialect"
)

func dialectName(s string) dialect.Name {
	if s == "pg" {
		return dialect.PG
	}
	return dialect.SQLite
}

func fsGlob(fsys fs.FS, pattern string) ([]string, error) { return fs.Glob(fsys, pattern) }
