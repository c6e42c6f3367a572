package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/partnerkit/partnerkit/partner"
)

// MaxRetries is how many times Update and View run a transaction again
// after it failed on a busy database, a serialization failure or a
// deadlock, before giving up with partner.ErrBusy.
const MaxRetries = 20

// BusyTimeout bounds how long Update and View keep at it, from the call's
// start, while the database stays locked by another writer or transactions
// keep failing as busy: then they give up with partner.ErrBusy. A sooner
// context deadline bounds them too.
const BusyTimeout = 10 * time.Second

// sqliteBusyTimeout is SQLite's own busy timeout on OpenSQLite's
// connections, and the most the store lets a host's connection wait while
// it holds one: how long one try waits inside SQLite, where with
// mattn/go-sqlite3 a context cannot end the wait (sqlite3_interrupt does
// not wake the busy handler; modernc.org/sqlite ends it itself). The store
// waits longer in Go, between tries.
const sqliteBusyTimeout = 100 * time.Millisecond

var (
	// errForeignKeysOff refuses a host's SQLite connection without foreign
	// keys: the schema's references would not be enforced.
	errForeignKeysOff = errors.New("bunstore: foreign keys are off on this SQLite connection: open it with " +
		"_pragma=foreign_keys(1) (modernc) or _foreign_keys=on (mattn), or use bunstore.SQLiteConnector")
	// errWriterQueue is the failure to get this store's write slot in time.
	errWriterQueue = errors.New("another write transaction of this store held the database")
)

// lockWait marks a busy failure met before a write transaction began,
// while waiting for the database's write lock: trying again is more
// waiting, not a retry of the transaction.
type lockWait struct{ err error }

func (e *lockWait) Error() string { return e.err.Error() }
func (e *lockWait) Unwrap() error { return e.err }

// abortedError is a write transaction that fn let go on after one of its
// statements failed in a way that aborts the transaction: it was rolled
// back, whatever fn returned.
type abortedError struct{ cause error }

func (e *abortedError) Error() string { return e.cause.Error() }
func (e *abortedError) Unwrap() error { return e.cause }

// report is what Update returns for it: a *partner.Error (so the Manager
// keeps its reason) wrapping the failure as mapErr maps it.
func (e *abortedError) report() error {
	return &partner.Error{Reason: "the transaction was rolled back, nothing was committed: " +
		"one of its statements failed, which aborts the whole transaction", Err: mapErr(e.cause)}
}

// retry runs once until it succeeds or fails for good, or until the
// database stayed busy past the bounds (see Update). once gets the
// instant at which waiting for a lock must stop.
func (s *Store) retry(ctx context.Context, once func(ctx context.Context, until time.Time) error) error {
	start := time.Now()
	until := start.Add(s.busyTimeout)
	var busy error // the last busy, serialization or deadlock failure
	runs, poll := 0, time.Millisecond
	ended := func(ctxErr error) error {
		return fmt.Errorf("bunstore: %w: the context ended (%w) after %v of waiting on a locked or busy database; last failure: %w",
			partner.ErrBusy, ctxErr, time.Since(start).Round(time.Millisecond), busy)
	}
	for {
		if err := ctx.Err(); err != nil {
			if busy != nil {
				return ended(err)
			}
			return err
		}
		err := once(ctx, until)
		if err == nil {
			return nil
		}
		// A statement the context interrupted reports the context's error,
		// even when it was waiting for a lock: after a busy failure, count
		// it as the busy episode's end.
		if ctxErr := ctx.Err(); ctxErr != nil && busy != nil && interrupted(err) {
			return ended(ctxErr)
		}
		// The context ended the wait for the write lock itself: the
		// driver stopped SQLite's busy wait and reported the context's
		// error (modernc.org/sqlite does; mattn/go-sqlite3 reports
		// SQLITE_BUSY once the wait is over), possibly in the first try,
		// before any busy failure. It ends a busy episode all the same.
		if lw := (*lockWait)(nil); errors.As(err, &lw) {
			if ctxErr := ctx.Err(); ctxErr != nil {
				if busy == nil {
					busy = err
				}
				return ended(ctxErr)
			}
		}
		if !transient(err) {
			var aborted *abortedError
			if errors.As(err, &aborted) {
				return aborted.report()
			}
			return mapErr(err)
		}
		busy = err
		var wait time.Duration
		if lw := (*lockWait)(nil); errors.As(err, &lw) {
			wait, poll = poll, min(2*poll, 16*time.Millisecond)
		} else {
			runs++
			wait = time.Duration(1<<min(runs-1, 6)) * time.Millisecond
		}
		if runs > s.retries || !time.Now().Before(until) {
			return fmt.Errorf("bunstore: %w: the database stayed locked or busy for %v over %d runs of the transaction; last failure: %w",
				partner.ErrBusy, time.Since(start).Round(time.Millisecond), runs, busy)
		}
		_ = sleep(ctx, wait+rand.N(wait)) // an ended context is reported at the top of the loop
	}
}

// write runs body in one write transaction on s.db, with Update's waiting
// and retries.
func (s *Store) write(ctx context.Context, body func(ctx context.Context, db bun.IDB) error) error {
	return s.retry(ctx, func(ctx context.Context, until time.Time) error {
		if s.writer != nil {
			if err := s.enqueue(ctx, until); err != nil {
				return err
			}
			defer func() { <-s.writer }()
		}
		if s.hostConn {
			return s.writeOnConn(ctx, until, body)
		}
		return s.writeOnTx(ctx, body)
	})
}

// enqueue takes this store's write slot: on SQLite one write transaction
// of the store runs at a time, and the others wait here, in Go, where the
// context can end the wait.
func (s *Store) enqueue(ctx context.Context, until time.Time) error {
	select {
	case s.writer <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case s.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
	case <-timer.C:
	}
	return &lockWait{errWriterQueue}
}

// writeOnTx runs body in a database/sql transaction: on PostgreSQL, and on
// the connections OpenSQLite configured, whose BEGIN is IMMEDIATE.
func (s *Store) writeOnTx(ctx context.Context, body func(ctx context.Context, db bun.IDB) error) error {
	s.prepare(ctx) // before BEGIN: preparing takes a connection of the pool
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		if s.name == dialect.SQLite && (transient(err) || ctx.Err() != nil) {
			return &lockWait{err} // BEGIN IMMEDIATE waits for the write lock
		}
		return err
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback() // also after a panic, which goes on up
		}
	}()
	if err := body(ctx, tx); err != nil {
		return err
	}
	committed = true
	return tx.Commit()
}

// writeOnConn runs body on a connection of a host's SQLite handle, which
// the store cannot configure: it checks that foreign keys are on, opens
// the transaction with an explicit BEGIN IMMEDIATE, and ends it with
// COMMIT or ROLLBACK itself, so that no connection goes back to the pool
// inside a transaction.
func (s *Store) writeOnConn(ctx context.Context, until time.Time, body func(ctx context.Context, db bun.IDB) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var fk int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return err
	}
	if fk != 1 {
		return errForeignKeysOff
	}
	restore, err := capBusyTimeout(ctx, conn)
	if err != nil {
		return err
	}
	defer restore()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		if !transient(err) {
			// The driver may report the context's end for a BEGIN that
			// succeeded: make sure no transaction is left open.
			rollbackConn(conn)
		}
		if transient(err) || ctx.Err() != nil {
			return &lockWait{err} // BEGIN IMMEDIATE waits for the write lock
		}
		return err
	}
	ended := false
	defer func() {
		if !ended {
			rollbackConn(conn) // also after a panic, which goes on up
		}
	}()
	if err := body(ctx, conn); err != nil {
		return err
	}
	// COMMIT runs without the context, which could otherwise report a
	// COMMIT that succeeded as failed. In rollback-journal mode it waits
	// for readers to finish: a busy COMMIT keeps the transaction, and is
	// tried again until the context ends or the wait is over.
	for poll := time.Millisecond; ; poll = min(2*poll, 16*time.Millisecond) {
		_, err := conn.ExecContext(context.WithoutCancel(ctx), "COMMIT")
		if err == nil {
			ended = true
			return nil
		}
		if !transient(err) || ctx.Err() != nil || !time.Now().Before(until) {
			return err
		}
		if sleep(ctx, poll) != nil {
			return err
		}
	}
}

// capBusyTimeout lowers the busy timeout of a host's connection to
// sqliteBusyTimeout while the store holds it, so that SQLite's own wait
// for a lock, which mattn/go-sqlite3 cannot end when the context ends,
// stays short and the store waits in Go instead (mattn's connections wait
// 5 s by default). restore
// puts the host's value back before the connection returns to the pool,
// or closes the connection if it cannot.
func capBusyTimeout(ctx context.Context, conn bun.Conn) (restore func(), err error) {
	var ms int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
		return nil, err
	}
	short := sqliteBusyTimeout.Milliseconds()
	if ms <= short {
		return func() {}, nil
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", short)); err != nil {
		return nil, err
	}
	return func() {
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf("PRAGMA busy_timeout = %d", ms)); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}, nil
}

// rollbackConn ends the transaction on conn; if that fails, the
// connection may still be inside it, so it is closed rather than pooled.
func rollbackConn(conn bun.Conn) {
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil &&
		!strings.Contains(err.Error(), "no transaction is active") {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// view runs fn in a read-only transaction on s.reads, with the same
// waiting and retries as Update.
func (s *Store) view(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.name == dialect.PG {
		opts.Isolation = sql.LevelRepeatableRead
	}
	run := func(ctx context.Context, tx bun.Tx) error {
		r := &reader{db: tx, s: s}
		defer func() { r.done = true }()
		return fn(ctx, r)
	}
	return s.retry(ctx, func(ctx context.Context, _ time.Time) error {
		if !s.hostConn {
			return s.reads.RunInTx(ctx, opts, run)
		}
		// A host's handle: on a connection whose busy timeout is capped.
		conn, err := s.reads.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		restore, err := capBusyTimeout(ctx, conn)
		if err != nil {
			return err
		}
		defer restore()
		return conn.RunInTx(ctx, opts, run)
	})
}

// interrupted reports an error of a statement cut short by its context's
// end: the context's error, or SQLite's SQLITE_INTERRUPT.
func interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "interrupted")
}

// transient reports failures worth waiting out or running the transaction
// again for: a busy or locked SQLite database, a PostgreSQL serialization
// failure or deadlock.
func transient(err error) bool {
	var pe *partner.Error
	if errors.As(err, &pe) && pe.Kind != nil {
		return false
	}
	if errors.Is(err, errWriterQueue) {
		return true
	}
	switch sqlState(err) {
	case "40001", "40P01": // serialization failure, deadlock
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "database table is locked")
}
