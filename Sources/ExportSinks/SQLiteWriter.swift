import FaceExportCrypto

#if canImport(Glibc)
import Glibc
#endif

/// One SQLite file with the documented schema, built under a temporary name and renamed into place.
///
/// - `replace`: the file holds this run's snapshot.
/// - `merge`: the previous file is copied and updated: faces are upserted, keeping `first_seen_run`
///   and setting `last_seen_run`; faces of a completely walked library that this run did not see get
///   `deleted_run`. A face seen again loses its `deleted_run`.
///
/// The load runs in WAL mode with prepared statements in batched transactions; at commit the
/// `user_id` index is built, the WAL is checkpointed, the journal switched back to `DELETE` (one
/// self-contained file), `PRAGMA quick_check` (or `integrity_check`) must say `ok`, and the file is
/// synced and renamed.
package final class SQLiteWriter: FileWriter {
    /// Rows a load transaction holds before it commits.
    package static let rowsPerTransaction = 50_000

    private let finalPath: String
    private let temporaryPath: String
    private let runID: String
    private let fileMode: mode_t
    private let changesPath: String?
    private let schema: RecordSchema
    private let check: OutputSink.SQLiteCheck
    private let steps: FileSteps
    private var database: SQLiteDatabase?
    private var insert: SQLiteDatabase.Statement?
    /// The table's last row id, asked at every checkpoint: prepared once.
    private var lastRowIDQuery: SQLiteDatabase.Statement?
    private var rows = 0
    private var rowsInTransaction = 0
    /// Whether the file held faces of earlier runs when this one began (merge mode): only then can a
    /// face be missing from this run, and only then is the sweep for removed faces made at the commit.
    private var hasEarlierFaces = false

    /// - Parameter changesPath: where to write the faces this run added, removed or modified (merge mode).
    init(
        path: String,
        schema: RecordSchema,
        runID: String,
        merge: Bool,
        check: OutputSink.SQLiteCheck = .quick,
        mode: UInt32,
        changesPath: String? = nil,
        resume: FileCheckpoint? = nil,
        steps: FileSteps = .direct
    ) throws(SinkError) {
        self.steps = steps
        self.changesPath = changesPath
        self.schema = schema
        self.check = check
        self.finalPath = path
        self.temporaryPath = AtomicFile.temporaryPath(for: path, runID: runID)
        self.runID = runID
        self.fileMode = mode_t(mode)
        try AtomicFile.makeFolders(AtomicFile.folder(of: path), steps: steps)
        if let resume {
            // The interrupted run's database: what it committed at its last checkpoint is there; what it
            // had not committed SQLite rolled back.
            guard access(self.temporaryPath, F_OK) == 0 else {
                throw .damaged("the temporary file \(self.temporaryPath)", "is gone")
            }
            self.rows = resume.rows
        } else if merge && access(path, F_OK) == 0 {
            Self.removeFiles(self.temporaryPath, steps: steps)
            try Self.copy(path, to: self.temporaryPath, mode: self.fileMode, steps: steps)
        } else {
            Self.removeFiles(self.temporaryPath, steps: steps)
            let descriptor = try steps.open(
                self.temporaryPath,
                flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                mode: self.fileMode,
                operation: "create"
            )
            fchmod(descriptor, self.fileMode)
            close(descriptor)
        }
        let database = try SQLiteDatabase(path: self.temporaryPath)
        do throws(SinkError) {
            try database.execute(Self.loadSettings)
            if let resume, let lastRowID = resume.lastRowID {
                try Self.cutBack(database, to: lastRowID, path: self.temporaryPath, steps: steps)
            }
        } catch  where resume != nil {
            // What a crash leaves SQLite recovers from itself: a file it cannot read was damaged after.
            throw .damaged("the temporary file \(self.temporaryPath)", "cannot be read as SQLite (\(error))")
        }
        try database.execute(Self.facesTable(schema) + Self.runTables)
        try Self.checkColumns(of: database, against: schema, path: path)
        // The `user_id` index is built after the load, as for a new file: kept during a merge, every
        // upsert would move its entry at a random place of an index far larger than the cache.
        try database.execute("DROP INDEX IF EXISTS faces_user_id")
        // A new file (the usual case) has none: its sweep would look up every face it just wrote. A
        // resumed run's file holds its own rows (same run id) and, in merge mode, the older ones.
        let earlier = try database.prepare("SELECT EXISTS (SELECT 1 FROM faces WHERE last_seen_run IS NOT ?1)")
        earlier.bind(runID, at: 1)
        _ = try earlier.step()
        self.hasEarlierFaces = earlier.int64(at: 0) != 0
        earlier.reset()
        let insert = try database.prepare(Self.upsert(schema))
        // The run's id is the same for every row: bound once (a reset keeps bindings).
        insert.bind(runID, at: Int32(schema.columns.count + 1))
        self.insert = insert
        self.lastRowIDQuery = try database.prepare(Self.lastRowIDSQL)
        self.database = database
        try database.execute("BEGIN")
    }

    func write(_ records: RecordRows) throws(SinkError) {
        guard let insert = self.insert, let database = self.database else { return }
        try records.withReader { (reader) throws(SinkError) in
            for row in 0..<reader.count {
                for column in 0..<reader.width {
                    let parameter = Int32(column + 1)
                    // The page's bytes outlive the step: bound in place, not copied.
                    switch reader.cell(row: row, column: column) {
                    case .integer(let number): insert.bind(number, at: parameter)
                    case let text: insert.bindStaticText(reader.bytes(of: text), at: parameter)
                    }
                }
                try insert.step()
                insert.reset()
            }
        }
        self.rows += records.count
        self.rowsInTransaction += records.count
        if self.rowsInTransaction >= Self.rowsPerTransaction {
            self.steps.step(.sqliteCommit, path: self.temporaryPath)
            try database.execute("COMMIT; BEGIN")
            self.rowsInTransaction = 0
        }
    }

    /// A SQLite file stays open until the run commits: its `groups` and `runs` tables need the outcome.
    func finish() throws(SinkError) {}

    /// Commits the rows so far: after a crash they are in the file, and the journal says so. The
    /// checkpoint names the table's last row id, so a resumed run can remove rows added after it.
    func checkpoint(storing: Bool) throws(SinkError) -> FileCheckpoint {
        var lastRowID: Int?
        if let database = self.database {
            self.steps.step(.sqliteCommit, path: self.temporaryPath)
            try database.execute("COMMIT")
            if let query = self.lastRowIDQuery { lastRowID = Int(try Self.lastRowID(query)) }
            try database.execute("BEGIN")
        }
        self.rowsInTransaction = 0
        return FileCheckpoint(bytes: 0, rows: self.rows, finished: false, lastRowID: lastRowID)
    }

    /// The largest row id of the `faces` table (0 when it is empty): rows are only ever added at the end.
    private static let lastRowIDSQL = "SELECT coalesce(max(rowid), 0) FROM faces"

    /// Runs the prepared ``lastRowIDSQL`` and resets it, so it holds no read transaction open.
    private static func lastRowID(_ query: SQLiteDatabase.Statement) throws(SinkError) -> Int64 {
        defer { query.reset() }
        _ = try query.step()
        return query.int64(at: 0)
    }

    /// Cuts an interrupted run's database back to its checkpoint: the rows added after the row id the
    /// journal names go (their pages are fetched again); a database that lost rows the journal
    /// vouches for cannot be continued.
    private static func cutBack(
        _ database: SQLiteDatabase,
        to lastRowID: Int,
        path: String,
        steps: FileSteps
    ) throws(SinkError) {
        let last = try Self.lastRowID(try database.prepare(Self.lastRowIDSQL))
        guard last >= lastRowID else {
            throw .damaged(
                "the temporary file \(path)",
                "ends at row \(last), before the row \(lastRowID) its journal vouches for"
            )
        }
        guard last > lastRowID else { return }
        steps.step(.sqliteCommit, path: path)
        try database.execute("DELETE FROM faces WHERE rowid > \(lastRowID)")
    }

    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile] {
        guard let database = self.database else {
            throw .sqlite("commit", path: self.finalPath, message: "the file was discarded")
        }
        let group = try database.prepare(
            """
            INSERT INTO groups (account, group_id, status, expected, exported, error, run_id, group_name, group_data, group_add_time)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
            ON CONFLICT (account, group_id) DO UPDATE SET status = excluded.status, expected = excluded.expected,
                exported = excluded.exported, error = excluded.error, run_id = excluded.run_id,
                group_name = coalesce(excluded.group_name, group_name), group_data = coalesce(excluded.group_data, group_data),
                group_add_time = coalesce(excluded.group_add_time, group_add_time)
            """
        )
        // Without a library column (only in replace mode) no previous face can be missing.
        let deleted = try Self.keyColumns(self.schema).map { key throws(SinkError) in
            try database.prepare(
                """
                UPDATE faces SET deleted_run = ?1, change = 'removed', change_run = ?1
                WHERE \(key.group) = ?2 AND last_seen_run <> ?1 AND deleted_run IS NULL
                """
            )
        }
        for entry in context.groups {
            group.bind(entry.account, at: 1)
            group.bind(entry.groupID, at: 2)
            group.bind(entry.status, at: 3)
            group.bind(entry.expected, at: 4)
            group.bind(entry.exported, at: 5)
            group.bind(entry.error, at: 6)
            group.bind(context.runID, at: 7)
            group.bind(entry.groupName, at: 8)
            group.bind(entry.groupData, at: 9)
            group.bind(entry.groupAddTime.map(Int.init), at: 10)
            try group.step()
            group.reset()
            // Only a library walked completely proves that an unseen face is gone.
            if self.hasEarlierFaces, entry.walkedToItsEnd, let deleted {
                deleted.bind(context.runID, at: 1)
                deleted.bind(entry.groupID, at: 2)
                try deleted.step()
                deleted.reset()
            }
        }
        let run = try database.prepare(
            """
            INSERT OR REPLACE INTO runs (run_id, pipeline, started_at, finished_at, outcome, faces, pages, requests, retries)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
            """
        )
        run.bind(context.runID, at: 1)
        run.bind(context.pipeline, at: 2)
        run.bind(context.startedAt, at: 3)
        run.bind(context.finishedAt, at: 4)
        run.bind(context.outcome, at: 5)
        run.bind(self.rows, at: 6)
        run.bind(context.pages, at: 7)
        run.bind(context.requests, at: 8)
        run.bind(context.retries, at: 9)
        try run.step()
        self.insert = nil
        self.lastRowIDQuery = nil
        self.steps.step(.sqliteCommit, path: self.temporaryPath)
        try database.execute("COMMIT")
        var prepared: [PreparedFile] = []
        do throws(SinkError) {
            if let changesPath = self.changesPath {
                prepared.append(contentsOf: try self.writeChanges(of: context, from: database, to: changesPath))
            }
            if let index = Self.userIDIndex(self.schema) { try database.execute(index) }
            try database.execute(Self.closeWAL)
            let pragma = self.check == .full ? "integrity_check" : "quick_check"
            let integrity = try database.scalarText("PRAGMA \(pragma)")
            guard integrity == "ok" else {
                throw .sqlite("check", path: self.temporaryPath, message: "\(pragma): \(integrity ?? "no answer")")
            }
            database.close()
            self.database = nil
            let (bytes, sha256) = try Self.syncAndHash(self.temporaryPath, steps: self.steps)
            let summary = SinkSummary(
                path: self.finalPath,
                format: "sqlite",
                rows: self.rows,
                bytes: bytes,
                sha256: sha256
            )
            return [PreparedFile(temporaryPath: self.temporaryPath, summary: summary)] + prepared
        } catch {
            // The changes file goes with the database it describes (the sink discards the database).
            for file in prepared { self.steps.remove(file.temporaryPath) }
            throw error
        }
    }

    /// Writes the faces this run added, removed or modified, by library, time and token.
    /// NDJSON or CSV by the path's ending (gzip with `.gz`): the export's columns and a last column
    /// `change` (`added`, `removed`, `modified`), streamed from the table a page at a time.
    private func writeChanges(
        of context: CommitContext,
        from database: SQLiteDatabase,
        to path: String
    ) throws(SinkError) -> [PreparedFile] {
        let names = self.schema.names.map(Self.quoted)
        let order = [RecordSchema.Origin.groupID, .addTime, .faceToken].compactMap { origin in
            self.schema.index(of: origin).map { names[$0] }
        }
        let changes = try database.prepare(
            """
            SELECT \((names + ["change"]).joined(separator: ", ")) FROM faces
            WHERE change_run = ?1 ORDER BY \((order.isEmpty ? ["rowid"] : order).joined(separator: ", "))
            """
        )
        changes.bind(context.runID, at: 1)
        var schema = self.schema
        schema.columns.append(RecordSchema.Column(name: "change", type: .text, origin: .constant))
        let csv = path.hasSuffix(".csv") || path.hasSuffix(".csv.gz")
        let file = try TextFileWriter(
            path: path,
            format: csv ? .csv : .ndjson,
            encoder: csv ? CSVEncoder(schema: schema, escapeFormulas: false) : NDJSONEncoder(schema: schema),
            runID: self.runID,
            compression: .standard,
            mode: UInt32(self.fileMode),
            steps: self.steps
        )
        var rows = RecordRows(width: schema.columns.count, capacity: 1000)
        while try changes.step() {
            for (index, column) in schema.columns.enumerated() {
                switch column.type {
                case .text: rows.append(.text(changes.text(at: Int32(index)) ?? ""))
                case .integer: rows.append(.integer(changes.int64(at: Int32(index))))
                }
            }
            if rows.count == 1000 {
                try file.write(rows)
                rows = RecordRows(width: schema.columns.count, capacity: 1000)
            }
        }
        if !rows.isEmpty { try file.write(rows) }
        return try file.prepareCommit(context)
    }

    /// A merged file must have been written with the same columns: a changed `transform:` section
    /// needs a new file (or `replace` mode), not a silently different table.
    private static func checkColumns(
        of database: SQLiteDatabase,
        against schema: RecordSchema,
        path: String
    ) throws(SinkError) {
        let info = try database.prepare("SELECT name FROM pragma_table_info('faces') ORDER BY cid")
        var found: [String] = []
        while try info.step() { found.append(info.text(at: 0) ?? "") }
        let wanted = schema.names + Self.bookkeepingColumns
        guard found == wanted else {
            throw .sqlite(
                "merge into",
                path: path,
                message:
                    "its faces table has the columns (\(found.joined(separator: ", "))) but this pipeline writes "
                    + "(\(wanted.joined(separator: ", "))); write to a new file or use mode: replace"
            )
        }
    }

    func discard() {
        self.insert = nil
        self.lastRowIDQuery = nil
        self.database?.close()
        self.database = nil
        Self.removeFiles(self.temporaryPath, steps: self.steps)
    }

    private static func removeFiles(_ path: String, steps: FileSteps) {
        for suffix in ["", "-wal", "-shm", "-journal"] { steps.remove(path + suffix) }
    }

    private static func copy(_ source: String, to destination: String, mode: mode_t, steps: FileSteps) throws(SinkError)
    {
        let output = try steps.open(
            destination,
            flags: O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
            mode: mode,
            operation: "create"
        )
        defer { close(output) }
        fchmod(output, mode)
        var failure: SinkError?
        _ = try AtomicFile.readChunks(of: source) { chunk in
            guard failure == nil else { return }
            do throws(SinkError) { try steps.write(chunk, to: output, path: destination) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Syncs the file and returns its size and SHA-256.
    private static func syncAndHash(_ path: String, steps: FileSteps) throws(SinkError) -> (Int, String) {
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io("open", path: path, errno: errno) }
        defer { close(descriptor) }
        try steps.sync(descriptor, path: path)
        var digest = SHA256Digest()
        let total = try AtomicFile.readChunks(of: path) { digest.update($0) }
        return (total, digest.hexDigest())
    }
}
