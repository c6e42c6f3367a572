package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
)

// This file registers the Go migration 20261215000001_search_index (bun's
// migrate names a Go migration after the file that registers it): the
// index behind the partners list's name search, Filter.Name, which
// matches the folded company name (partnerkit_partners.company_key)
// containing the folded query.
//
//   - SQLite: an FTS5 table with the trigram tokenizer over company_key,
//     kept by triggers on partnerkit_partners. A query of 3 characters or
//     more is a MATCH of that text as one phrase, which finds exactly the
//     names containing it; a shorter query, which no trigram can find,
//     scans the names as before. A driver built without FTS5 (mattn's
//     go-sqlite3 without the sqlite_fts5 build tag) cannot create the
//     table: the migration then creates nothing, and every search scans.
//     Once a database has the table, its triggers write it with every
//     new or renamed partner: every program writing partners to that
//     database needs a driver with FTS5.
//   - PostgreSQL: a GIN index with pg_trgm's gin_trgm_ops on company_key,
//     which the LIKE of the search uses (for queries of 3 characters or
//     more; PostgreSQL rechecks every candidate row, so results are exact
//     whatever the index finds). It needs the extension pg_trgm: the
//     migration creates it if it is missing, which takes a superuser on
//     PostgreSQL 12 and older and the CREATE privilege on the database from
//     PostgreSQL 13 (pg_trgm is a trusted extension there). When it cannot,
//     the migration creates no index and the search scans, as before; an
//     administrator may run CREATE EXTENSION pg_trgm and then
//     CreateSearchIndex.

// searchFTS is the name of SQLite's FTS5 table of company name keys.
const searchFTS = "partnerkit_partners_fts"

// registerSearchIndex adds the migration to ms.
func (s *Store) registerSearchIndex(ms *migrate.Migrations) {
	ms.MustRegister(
		func(ctx context.Context, db *bun.DB) error { _, err := CreateSearchIndex(ctx, db); return err },
		func(ctx context.Context, db *bun.DB) error { return dropSearchIndex(ctx, db) },
	)
}

// CreateSearchIndex creates the index of the partners' name search (see
// the Go migration 20261215000001_search_index: an FTS5 trigram table on
// SQLite, a pg_trgm GIN index on PostgreSQL) and reports whether the
// database has it afterwards. Migrate runs it; a host that runs the SQL
// migrations (Migrations) with its own tooling may call it after them. It
// is idempotent. When the database cannot have the index — SQLite without
// FTS5, PostgreSQL without pg_trgm and the right to create it — it
// creates nothing and reports false with a nil error: the search then
// scans the names, with the same results.
func CreateSearchIndex(ctx context.Context, db *bun.DB) (bool, error) {
	switch db.Dialect().Name() {
	case dialect.SQLite:
		return createFTS(ctx, db)
	case dialect.PG:
		return createTrigramIndex(ctx, db)
	}
	return false, nil
}

// createTrigramIndex creates pg_trgm, when it is missing, in the schema
// public (or, without one, the current schema), then the GIN index, naming
// the operator class with the extension's schema so that it is found
// whatever the search path. The index is written as partners are added
// (fastupdate off): a GIN index's pending list of new entries would be
// read by every search until the next vacuum.
func createTrigramIndex(ctx context.Context, db *bun.DB) (bool, error) {
	schema := func() (string, error) {
		var name string
		err := db.QueryRowContext(ctx, "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace "+
			"WHERE e.extname = 'pg_trgm'").Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return name, err
	}
	where, err := schema()
	if err != nil {
		return false, fmt.Errorf("bunstore: search index: %w", err)
	}
	if where == "" {
		var public int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'").Scan(&public); err != nil {
			return false, fmt.Errorf("bunstore: search index: %w", err)
		}
		stmt := "CREATE EXTENSION IF NOT EXISTS pg_trgm"
		if public > 0 {
			stmt += " WITH SCHEMA public"
		}
		// Refused without the right to create it: the search scans.
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			if where, _ = schema(); where == "" {
				return false, nil
			}
		}
		if where, err = schema(); err != nil || where == "" {
			return false, err
		}
	}
	_, err = db.ExecContext(ctx, "CREATE INDEX IF NOT EXISTS partnerkit_partners_company_trgm ON partnerkit_partners "+
		"USING gin (company_key "+pgIdent(where)+".gin_trgm_ops) WITH (fastupdate = off)")
	if err != nil {
		return false, fmt.Errorf("bunstore: search index: %w", err)
	}
	return true, nil
}

// pgIdent quotes a PostgreSQL identifier.
func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// createFTS creates the FTS5 table, its triggers and its content in one
// transaction; false when the driver has no FTS5 or no trigram tokenizer.
func createFTS(ctx context.Context, db *bun.DB) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("bunstore: search index: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "CREATE VIRTUAL TABLE IF NOT EXISTS "+searchFTS+
		" USING fts5(company_key, content='partnerkit_partners', content_rowid='id', tokenize='trigram case_sensitive 1')")
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "no such module") || strings.Contains(msg, "no such tokenizer") {
			return false, nil // no FTS5 in this build of SQLite: the search scans
		}
		return false, fmt.Errorf("bunstore: search index: %w", err)
	}
	for _, stmt := range []string{
		"CREATE TRIGGER IF NOT EXISTS " + searchFTS + "_ai AFTER INSERT ON partnerkit_partners BEGIN " +
			"INSERT INTO " + searchFTS + " (rowid, company_key) VALUES (new.id, new.company_key); END",
		"CREATE TRIGGER IF NOT EXISTS " + searchFTS + "_ad AFTER DELETE ON partnerkit_partners BEGIN " +
			"INSERT INTO " + searchFTS + " (" + searchFTS + ", rowid, company_key) VALUES ('delete', old.id, old.company_key); END",
		"CREATE TRIGGER IF NOT EXISTS " + searchFTS + "_au AFTER UPDATE OF company_key ON partnerkit_partners " +
			"WHEN old.company_key IS NOT new.company_key BEGIN " +
			"INSERT INTO " + searchFTS + " (" + searchFTS + ", rowid, company_key) VALUES ('delete', old.id, old.company_key); " +
			"INSERT INTO " + searchFTS + " (rowid, company_key) VALUES (new.id, new.company_key); END",
		"INSERT INTO " + searchFTS + " (" + searchFTS + ") VALUES ('rebuild')",
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("bunstore: search index: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("bunstore: search index: %w", err)
	}
	return true, nil
}

func dropSearchIndex(ctx context.Context, db *bun.DB) error {
	stmts := []string{"DROP INDEX IF EXISTS partnerkit_partners_company_trgm"}
	if db.Dialect().Name() == dialect.SQLite {
		stmts = []string{"DROP TRIGGER IF EXISTS " + searchFTS + "_ai", "DROP TRIGGER IF EXISTS " + searchFTS + "_ad",
			"DROP TRIGGER IF EXISTS " + searchFTS + "_au", "DROP TABLE IF EXISTS " + searchFTS}
	}
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("bunstore: drop search index: %w", err)
		}
	}
	return nil
}

// Whether the SQLite database has the FTS5 table, as Store.fts caches it.
const (
	ftsUnknown int32 = iota
	ftsPresent
	ftsAbsent
)

// hasFTS reports whether the search can use SQLite's FTS5 table: it looks
// the table up once per Store (and again after Migrate).
func (r *reader) hasFTS(ctx context.Context) (bool, error) {
	if r.s.name != dialect.SQLite {
		return false, nil
	}
	switch r.s.fts.Load() {
	case ftsPresent:
		return true, nil
	case ftsAbsent:
		return false, nil
	}
	var name string
	err := r.db.QueryRowContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", searchFTS).Scan(&name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		r.s.fts.Store(ftsAbsent)
		return false, nil
	case err != nil:
		return false, r.dbErr(err)
	}
	r.s.fts.Store(ftsPresent)
	return true, nil
}

// ftsPhrase is an FTS5 query matching key as one phrase: with the
// trigram tokenizer, the texts that contain key. It needs key to have 3
// characters or more (minTrigram).
func ftsPhrase(key string) string {
	return `"` + strings.ReplaceAll(key, `"`, `""`) + `"`
}

// minTrigram is the shortest query a trigram index can find.
const minTrigram = 3

// indexable reports whether a folded query is long enough for the index.
func indexable(key string) bool { return utf8.RuneCountInString(key) >= minTrigram }
