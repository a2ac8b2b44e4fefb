/// The `changes` file of a SQLite output in `merge` mode: the faces this run added, removed or
/// modified, with the export's columns and a last column `change` (`added`, `removed`, `modified`):
/// `schema` and `rows` include that column.
/// NDJSON or CSV by the path's ending; gzip with `.gz`.
enum ChangesFile {
    static func write(
        _ rows: RecordRows,
        schema: RecordSchema,
        path: String,
        runID: String,
        mode: UInt32
    ) throws(SinkError) -> PreparedFile {
        let csv = path.hasSuffix(".csv") || path.hasSuffix(".csv.gz")
        let output = try makeByteOutput(path: path, runID: runID, compressionLevel: 6, mode: mode)
        let encoder: any RecordEncoder =
            csv ? CSVEncoder(schema: schema, escapeFormulas: false) : NDJSONEncoder(schema: schema)
        var buffer = encoder.header
        for index in 0..<rows.count {
            encoder.encode(rows[row: index], into: &buffer)
            if buffer.count >= 1 << 16 {
                try output.write(buffer[...])
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try output.write(buffer[...])
        try output.finish()
        let file = output.file
        let summary = SinkSummary(
            path: path,
            format: csv ? "csv" : "ndjson",
            rows: rows.count,
            bytes: file.bytesWritten,
            sha256: file.sha256
        )
        return PreparedFile(temporaryPath: file.temporaryPath, summary: summary)
    }
}
