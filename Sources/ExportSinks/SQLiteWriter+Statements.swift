/// The SQL the SQLite output is made with: its tables, the load's and the merge's statements.
extension SQLiteWriter {
    /// Columns every `faces` table has after the export's own, with their SQL types: they track
    /// sightings and changes.
    static let bookkeeping = [
        (name: "first_seen_run", type: "TEXT NOT NULL"), (name: "last_seen_run", type: "TEXT NOT NULL"),
        (name: "deleted_run", type: "TEXT"), (name: "change", type: "TEXT"), (name: "change_run", type: "TEXT"),
    ]

    /// The names of the bookkeeping columns.
    static let bookkeepingColumns = bookkeeping.map(\.name)

    /// The `groups` and `runs` tables, as documented in the Outputs article of the FaceExport catalog.
    static let runTables = """
        CREATE TABLE IF NOT EXISTS groups (
            account TEXT NOT NULL,
            group_id TEXT NOT NULL,
            status TEXT NOT NULL,
            expected INTEGER,
            exported INTEGER NOT NULL,
            error TEXT,
            run_id TEXT NOT NULL,
            group_name TEXT,
            group_data TEXT,
            group_add_time INTEGER,
            PRIMARY KEY (account, group_id)
        );
        CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT PRIMARY KEY,
            pipeline TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL,
            faces INTEGER NOT NULL,
            pages INTEGER NOT NULL,
            requests INTEGER NOT NULL,
            retries INTEGER NOT NULL
        );
        """

    /// The `faces` table for `schema`: its columns in order, then the bookkeeping columns; the primary
    /// key is the library and token columns when the schema has both.
    package static func facesTable(_ schema: RecordSchema) -> String {
        var lines = schema.columns.map { "    \(quoted($0.name)) \($0.type == .integer ? "INTEGER" : "TEXT") NOT NULL" }
        lines += Self.bookkeeping.map { "    \($0.name) \($0.type)" }
        if let key = Self.keyColumns(schema) { lines.append("    PRIMARY KEY (\(key.group), \(key.token))") }
        return "CREATE TABLE IF NOT EXISTS faces (\n" + lines.joined(separator: ",\n") + "\n);"
    }

    /// The library and token columns (quoted), when the schema keeps both.
    static func keyColumns(_ schema: RecordSchema) -> (group: String, token: String)? {
        guard let group = schema.index(of: .groupID), let token = schema.index(of: .faceToken) else { return nil }
        return (quoted(schema.columns[group].name), quoted(schema.columns[token].name))
    }

    /// A column name as an SQL identifier: transforms may name columns `order` or `group`.
    static func quoted(_ name: String) -> String { "\"\(name)\"" }

    /// Inserts a face, added by this run: the schema's columns as `?1…?n`, the run's id as `?n+1`.
    package static func insert(_ schema: RecordSchema) -> String {
        let names = schema.names.map(quoted)
        let run = "?\(names.count + 1)"
        return """
            INSERT INTO faces (\(names.joined(separator: ", ")), first_seen_run, last_seen_run, change, change_run)
            VALUES (\((1...names.count).map { "?\($0)" }.joined(separator: ", ")), \(run), \(run), 'added', \(run))
            """
    }

    /// The index on the `user_id` column, made when the run commits (after the load, which it would slow).
    package static func userIDIndex(_ schema: RecordSchema) -> String? {
        schema.index(of: .userID).map {
            "CREATE INDEX IF NOT EXISTS faces_user_id ON faces (\(Self.quoted(schema.columns[$0].name)))"
        }
    }

    /// The settings of the load. 16 KiB pages (for a new file; a copied one keeps its own) take a
    /// tenth less time to load than the default 4 KiB; a 4 MiB cache loads as fast as 16 MiB: the
    /// b-tree's hot pages are few.
    package static let loadSettings =
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -4000;"

    /// Folds the WAL into the file and leaves it a single self-contained file.
    package static let closeWAL = "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;"

    /// Inserts a face; with a key, upserts it. New faces are `added` by this run; a face seen again
    /// after a deletion is `added` again; one whose columns describing the face differ is
    /// `modified`; otherwise its last change stays.
    static func upsert(_ schema: RecordSchema) -> String {
        var sql = Self.insert(schema)
        guard let key = Self.keyColumns(schema) else { return sql }
        let others = schema.columns.filter { $0.origin != .groupID && $0.origin != .faceToken }
        let compared = others.filter(\.origin.describesFace).map {
            "faces.\(quoted($0.name)) IS NOT excluded.\(quoted($0.name))"
        }
        let modified = compared.isEmpty ? "0" : compared.joined(separator: " OR ")
        let assignments = others.map { "\(quoted($0.name)) = excluded.\(quoted($0.name))" }
        sql += """

            ON CONFLICT (\(key.group), \(key.token)) DO UPDATE SET
                change = CASE
                    WHEN faces.deleted_run IS NOT NULL THEN 'added'
                    WHEN \(modified) THEN 'modified'
                    ELSE faces.change END,
                change_run = CASE
                    WHEN faces.deleted_run IS NOT NULL OR \(modified) THEN excluded.last_seen_run
                    ELSE faces.change_run END,
                \((assignments + ["last_seen_run = excluded.last_seen_run", "deleted_run = NULL"]).joined(separator: ", "))
            """
        return sql
    }
}
