import ExportSinks

#if canImport(Glibc)
import Glibc
#endif

/// What SQLite itself costs to load rows into the SQLite output's `faces` table: the floor the
/// SQLite sink's figure is read against in `faceexport-bench`.
///
/// A minimal loop over `SQLiteWriter`'s own table, settings, insert, transaction size and finishing
/// steps (the `user_id` index, the WAL folded in, `PRAGMA quick_check`), with the rows' bytes made up
/// front (``init(_:schema:)``, outside what is measured) and bound without copies (`SQLITE_STATIC`).
/// Whatever the sink spends beyond ``load(count:path:)`` is its own.
final class SQLiteFloor {
    private let schema: RecordSchema
    /// Every row of the pages, in one batch whose bytes the statement reads in place.
    private let rows: RecordRows

    /// Makes every cell of `pages` ready to bind.
    init(_ pages: [RecordRows], schema: RecordSchema = .standard) {
        var rows = RecordRows(width: schema.columns.count)
        for page in pages {
            for index in 0..<page.count { rows.append(row: page[row: index]) }
        }
        self.rows = rows
        self.schema = schema
    }

    /// Loads `count` rows, cycling through the pages (the library column renamed on every cycle so
    /// keys stay distinct), into a new file at `path`.
    func load(count: Int, path: String) throws(SinkError) {
        unlink(path)
        let database = try SQLiteDatabase(path: path)
        try database.execute(SQLiteWriter.loadSettings)
        try database.execute(SQLiteWriter.facesTable(self.schema))
        let insert = try database.prepare(SQLiteWriter.insert(self.schema))
        let groupColumn = self.schema.index(of: .groupID)
        // The run's id, the same for every row, bound once as the sink binds it.
        insert.bind("floor", at: Int32(self.schema.columns.count + 1))
        let groupNames = (0...count / self.rows.count).map { Array("floor-\($0)".utf8CString) }
        try database.execute("BEGIN")
        try self.rows.withReader { (reader) throws(SinkError) in
            for row in 0..<count {
                let source = row % reader.count
                for column in 0..<reader.width {
                    let parameter = Int32(column + 1)
                    if column == groupColumn {
                        groupNames[row / reader.count].withUnsafeBufferPointer {
                            insert.bindText($0.baseAddress!, count: $0.count - 1, at: parameter)
                        }
                        continue
                    }
                    switch reader.cell(row: source, column: column) {
                    case .integer(let number): insert.bind(number, at: parameter)
                    case let text: insert.bindStaticText(reader.bytes(of: text), at: parameter)
                    }
                }
                try insert.step()
                insert.reset()
                if (row + 1) % SQLiteWriter.rowsPerTransaction == 0 { try database.execute("COMMIT; BEGIN") }
            }
        }
        try database.execute("COMMIT")
        if let index = SQLiteWriter.userIDIndex(self.schema) { try database.execute(index) }
        try database.execute(SQLiteWriter.closeWAL)
        _ = try database.scalarText("PRAGMA quick_check")
        database.close()
    }
}
