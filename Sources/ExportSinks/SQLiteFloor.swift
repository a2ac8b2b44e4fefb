import CSQLite

#if canImport(Glibc)
import Glibc
#endif

/// What SQLite itself costs to load rows into the SQLite output's `faces` table: the floor the
/// SQLite sink's figure is read against in `faceexport bench`.
///
/// A minimal loop over ``SQLiteWriter``'s own table, settings, insert, transaction size and finishing
/// steps (the `user_id` index, the WAL folded in, `PRAGMA quick_check`), with the rows' bytes made up
/// front (``init(_:schema:)``, outside what is measured) and bound without copies (`SQLITE_STATIC`).
/// Whatever the sink spends beyond ``load(count:path:)`` is its own.
public final class SQLiteFloor {
    private enum Cell {
        case text(offset: Int, count: Int)
        case integer(Int64)
    }

    private let schema: RecordSchema
    private let rows: [[Cell]]
    /// Every text cell's bytes, one after the other, where the statement reads them in place.
    private let bytes: UnsafeMutableBufferPointer<CChar>

    /// Makes every cell of `pages` ready to bind.
    public init(_ pages: [RecordRows], schema: RecordSchema = .standard) {
        var arena: [CChar] = []
        self.rows = pages.flatMap { page in
            (0..<page.count).map { index in
                page[row: index].map { value -> Cell in
                    switch value {
                    case .text(let text):
                        let offset = arena.count
                        arena.append(contentsOf: text.utf8.map { CChar(bitPattern: $0) })
                        return .text(offset: offset, count: arena.count - offset)
                    case .integer(let number): return .integer(number)
                    }
                }
            }
        }
        self.bytes = .allocate(capacity: max(1, arena.count))
        _ = self.bytes.initialize(from: arena)
        self.schema = schema
    }

    deinit { self.bytes.deallocate() }

    /// Loads `count` rows, cycling through the pages (the library column renamed on every cycle so
    /// keys stay distinct), into a new file at `path`.
    public func load(count: Int, path: String) throws(SinkError) {
        unlink(path)
        let database = try SQLiteDatabase(path: path)
        try database.execute(SQLiteWriter.loadSettings)
        try database.execute(SQLiteWriter.facesTable(self.schema))
        let insert = try database.prepare(SQLiteWriter.insert(self.schema))
        let groupColumn = self.schema.index(of: .groupID)
        let runParameter = Int32(self.schema.columns.count + 1)
        let runID = Array("floor".utf8CString)
        let groupNames = (0...count / self.rows.count).map { Array("floor-\($0)".utf8CString) }
        try database.execute("BEGIN")
        for row in 0..<count {
            for (column, cell) in self.rows[row % self.rows.count].enumerated() {
                let parameter = Int32(column + 1)
                if column == groupColumn {
                    groupNames[row / self.rows.count].withUnsafeBufferPointer {
                        insert.bindText($0.baseAddress!, count: $0.count - 1, at: parameter)
                    }
                    continue
                }
                switch cell {
                case .text(let offset, let length):
                    insert.bindStaticText(self.bytes.baseAddress! + offset, count: length, at: parameter)
                case .integer(let number): insert.bind(number, at: parameter)
                }
            }
            runID.withUnsafeBufferPointer { insert.bindText($0.baseAddress!, count: $0.count - 1, at: runParameter) }
            try insert.step()
            insert.reset()
            if (row + 1) % SQLiteWriter.rowsPerTransaction == 0 { try database.execute("COMMIT; BEGIN") }
        }
        try database.execute("COMMIT")
        if let index = SQLiteWriter.userIDIndex(self.schema) { try database.execute(index) }
        try database.execute(SQLiteWriter.closeWAL)
        _ = try database.scalarText("PRAGMA quick_check")
        database.close()
    }
}
