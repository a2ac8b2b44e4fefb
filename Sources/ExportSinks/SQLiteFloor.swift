import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// What SQLite itself costs to load rows into the SQLite output's `faces` table: the floor the
/// SQLite sink's figure is read against in `faceexport bench`.
///
/// A minimal loop: the same table, pragmas, transaction size and finishing steps (the `user_id`
/// index, the WAL checkpoint, `PRAGMA quick_check`) as ``SQLiteWriter``, with the rows' bytes made
/// up front and bound without copies (`SQLITE_STATIC`) to a plain prepared `INSERT`. Whatever the sink
/// spends beyond this is its own.
public enum SQLiteFloor {
    /// Loads `count` rows, cycling through `pages` (the library column renamed on every cycle so
    /// keys stay distinct), into a new file at `path`; returns the thread's CPU seconds.
    public static func load(
        _ pages: [RecordRows],
        count: Int,
        schema: RecordSchema = .standard,
        path: String
    ) throws(SinkError) -> Double {
        // Every cell made before the clock starts: text bytes in one arena (bound in place), numbers.
        enum Cell {
            case text(offset: Int, count: Int)
            case integer(Int64)
        }
        var arena: [UInt8] = []
        let rows: [[Cell]] = pages.flatMap { page in
            (0..<page.count).map { index in
                page[row: index].map { value -> Cell in
                    switch value {
                    case .text(let text):
                        let offset = arena.count
                        arena.append(contentsOf: text.utf8)
                        return .text(offset: offset, count: arena.count - offset)
                    case .integer(let number): return .integer(number)
                    }
                }
            }
        }
        let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: arena.count + 1)
        defer { bytes.deallocate() }
        arena.withUnsafeBytes { source in
            UnsafeMutableRawPointer(bytes).copyMemory(
                from: source.baseAddress ?? UnsafeRawPointer(bytes),
                byteCount: source.count
            )
        }
        let groupColumn = schema.index(of: .groupID)
        unlink(path)
        let started = threadCPUSeconds()
        let database = try SQLiteDatabase(path: path)
        try database.execute(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000;"
        )
        try database.execute(SQLiteWriter.facesTable(schema))
        let names = schema.names.map(SQLiteWriter.quoted)
        // The sink's own insert has these bookkeeping columns (the run's id) too.
        let run = "?\(names.count + 1)"
        let insert = try database.prepare(
            """
            INSERT INTO faces (\(names.joined(separator: ", ")), first_seen_run, last_seen_run, change, change_run)
            VALUES (\((1...names.count).map { "?\($0)" }.joined(separator: ", ")), \(run), \(run), 'added', \(run))
            """
        )
        let runID = Array("floor".utf8CString)
        try database.execute("BEGIN")
        let groupNames = (0...count / rows.count).map { Array("floor-\($0)".utf8CString) }
        for row in 0..<count {
            let template = rows[row % rows.count]
            for (column, cell) in template.enumerated() {
                let parameter = Int32(column + 1)
                if column == groupColumn {
                    groupNames[row / rows.count].withUnsafeBufferPointer {
                        insert.bindText($0.baseAddress!, count: $0.count - 1, at: parameter)
                    }
                    continue
                }
                switch cell {
                case .text(let offset, let length): insert.bindStaticText(bytes + offset, count: length, at: parameter)
                case .integer(let number): insert.bind(number, at: parameter)
                }
            }
            runID.withUnsafeBufferPointer {
                insert.bindText($0.baseAddress!, count: $0.count - 1, at: Int32(template.count + 1))
            }
            try insert.step()
            insert.reset()
            if (row + 1) % 50_000 == 0 { try database.execute("COMMIT; BEGIN") }
        }
        try database.execute("COMMIT")
        if let userID = schema.index(of: .userID) {
            try database.execute(
                "CREATE INDEX faces_user_id ON faces (\(SQLiteWriter.quoted(schema.columns[userID].name)))"
            )
        }
        try database.execute("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        _ = try database.scalarText("PRAGMA quick_check")
        database.close()
        return threadCPUSeconds() - started
    }

    private static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
