package httpadmin

import (
	"embed"
	"io/fs"
)

// The vendored htmx: the version and the sha256 of the embedded file.
// TestEmbeddedHTMX checks the file against them.
const (
	HTMXVersion = "2.0.11"
	HTMXSHA256  = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
)

//go:embed assets/htmx.min.js assets/admin.css
var assetFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

// Assets returns the files the plugin serves under /assets/.
func Assets() fs.FS {
	sub, _ := fs.Sub(assetFS, "assets")
	return sub
}
