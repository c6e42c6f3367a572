package partnerkit_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmePrelude declares what the README's snippets take from the host
// around them: a context, a Manager, a mux, the host's own functions.
const readmePrelude = `package readme

import (
	"context"
	"database/sql"
	"errors"
	"log"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

var (
	ctx     context.Context
	m       *partner.Manager
	mux     *http.ServeMux
	dsn     string
	mystore struct{ New func(*testing.T) partner.Store }
)

func currentUser(*http.Request) string                                   { return "" }
func requireRole(*http.Request, string) error                            { return nil }
func hostLayout(http.ResponseWriter, *http.Request, httpadmin.LayoutData) {}
func postWebhook(context.Context, partner.Event) error                    { return nil }
`

// TestREADMESnippetsCompile type-checks every Go snippet of the README
// against the library as it is, so the README cannot show an API that does
// not exist. A snippet that declares functions stands at file level; the
// others become the body of a function of their own.
func TestREADMESnippetsCompile(t *testing.T) {
	text, err := os.ReadFile("README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(text), -1)
	require.NotEmpty(t, blocks, "the README shows Go code")
	var b strings.Builder
	b.WriteString(readmePrelude)
	for i, blk := range blocks {
		code := blk[1]
		if strings.HasPrefix(strings.TrimSpace(code), "func ") {
			b.WriteString("\n" + code)
			continue
		}
		b.WriteString("\nfunc snippet" + string(rune('A'+i)) + "() {\n" + code + "}\n")
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "README.go", b.String(), 0)
	require.NoError(t, err, "the README's snippets parse:\n%s", b.String())
	var problems []string
	conf := types.Config{
		Importer: importer.ForCompiler(fset, "source", nil),
		Error: func(err error) {
			msg := err.Error()
			// Snippets are fragments: a name one of them leaves unused,
			// or an import only some use, is not a mistake of the README.
			if strings.Contains(msg, "declared and not used") || strings.Contains(msg, "imported and not used") {
				return
			}
			problems = append(problems, msg)
		},
	}
	_, _ = conf.Check("readme", fset, []*ast.File{f}, nil)
	require.Empty(t, problems, "the README's Go snippets must compile against the library")
}
