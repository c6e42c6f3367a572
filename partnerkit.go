// Package partnerkit names the library and its version. The library itself
// lives in its packages: partner (the Manager facade, the guard table and
// the store contract), the leaf packages license, account and serviceplan,
// the stores partner/memstore and partner/bunstore, the conformance suite
// partner/storetest, and the optional HTMX console httpadmin.
package partnerkit

// Version is the library's release, as CHANGELOG.md records it (semantic
// versioning, without the leading "v" of the module's Git tag).
const Version = "0.1.0"
