import CSQLite

/// A thin handle on one SQLite database through the C API: open, run SQL, prepared statements.
package final class SQLiteDatabase {
    let path: String
    private var handle: OpaquePointer?

    /// SQLite's process-wide settings, made once before the first connection opens: memory statistics
    /// off, which spares a global mutex on every allocation (a tenth of the load's time). Nothing in
    /// faceexport reads them. When SQLite was already initialised the call is refused and changes nothing.
    private static let processSettings: Void = { _ = sqlite3_config_memstatus(0) }()

    package init(path: String) throws(SinkError) {
        _ = Self.processSettings
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw .sqlite("open", path: path, message: message)
        }
        self.handle = handle
    }

    deinit { self.close() }

    package func close() {
        sqlite3_close_v2(self.handle)
        self.handle = nil
    }

    /// Runs one or more statements that return no rows the caller needs.
    package func execute(_ sql: String) throws(SinkError) {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(self.handle, sql, nil, nil, &error)
        guard code == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? self.lastError
            sqlite3_free(error)
            throw self.failure(code, "run '\(sql.prefix(60))'", message: message)
        }
    }

    /// SQLite's error in plain words where it has a plain cause (a full disk), else its own message.
    fileprivate func failure(_ code: Int32, _ operation: String, message: String) -> SinkError {
        if code & 0xFF == SQLITE_FULL {
            return .sqlite("write", path: self.path, message: "the disk is full; \(SinkError.diskFullAdvice)")
        }
        return .sqlite(operation, path: self.path, message: message)
    }

    /// The first column of the first row of `sql`, as text.
    package func scalarText(_ sql: String) throws(SinkError) -> String? {
        let statement = try self.prepare(sql)
        guard try statement.step() else { return nil }
        return statement.text(at: 0)
    }

    package func prepare(_ sql: String) throws(SinkError) -> Statement {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(self.handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw .sqlite("prepare '\(sql.prefix(60))'", path: self.path, message: self.lastError)
        }
        return Statement(statement: statement, database: self)
    }

    var lastError: String { self.handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    /// A prepared statement; bind, step, reset.
    package final class Statement {
        private let statement: OpaquePointer
        private unowned let database: SQLiteDatabase
        /// SQLite copies bound text at once, so Swift strings need not outlive the call.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        init(statement: OpaquePointer, database: SQLiteDatabase) {
            self.statement = statement
            self.database = database
        }

        deinit { sqlite3_finalize(self.statement) }

        package func bind(_ value: String, at index: Int32) {
            _ = withUTF8(of: value) { bytes in
                bytes.withMemoryRebound(to: CChar.self) { characters in
                    // An empty string may have no buffer; SQLite needs a pointer for '' (a nil one means NULL).
                    guard let base = characters.baseAddress else {
                        return sqlite3_bind_text(self.statement, index, "", 0, Self.transient)
                    }
                    return sqlite3_bind_text(self.statement, index, base, Int32(characters.count), Self.transient)
                }
            }
        }

        /// Binds `count` bytes at `text`, copied by SQLite.
        package func bindText(_ text: UnsafePointer<CChar>, count: Int, at index: Int32) {
            sqlite3_bind_text(self.statement, index, text, Int32(count), Self.transient)
        }

        /// Binds `text` without a copy: its bytes must stay valid until the statement is stepped and
        /// bound again.
        package func bindStaticText(_ text: UnsafeBufferPointer<UInt8>, at index: Int32) {
            // An empty span may have no address; SQLite needs a pointer for '' (a nil one means NULL).
            let base = UnsafeRawPointer(text.baseAddress ?? ("" as StaticString).utf8Start)
            sqlite3_bind_text(self.statement, index, base.assumingMemoryBound(to: CChar.self), Int32(text.count), nil)
        }

        package func bind(_ value: String?, at index: Int32) {
            if let value { self.bind(value, at: index) } else { sqlite3_bind_null(self.statement, index) }
        }

        package func bind(_ value: Int64, at index: Int32) { sqlite3_bind_int64(self.statement, index, value) }

        package func bind(_ value: Int?, at index: Int32) {
            if let value {
                sqlite3_bind_int64(self.statement, index, Int64(value))
            } else {
                sqlite3_bind_null(self.statement, index)
            }
        }

        /// Steps once; true when a row is available.
        @discardableResult
        package func step() throws(SinkError) -> Bool {
            switch sqlite3_step(self.statement) {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            case let code: throw self.database.failure(code, "write", message: self.database.lastError)
            }
        }

        package func reset() {
            sqlite3_reset(self.statement)
        }

        func int64(at column: Int32) -> Int64 { sqlite3_column_int64(self.statement, column) }

        func text(at column: Int32) -> String? {
            guard let text = sqlite3_column_text(self.statement, column) else { return nil }
            return String(cString: text)
        }
    }
}
