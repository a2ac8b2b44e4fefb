/// The `changes` file of a SQLite output in `merge` mode: the faces this run added, removed or
/// modified, with the export's columns and a last column `change` (`added`, `removed`, `modified`).
/// NDJSON or CSV by the path's ending; gzip with `.gz`.
enum ChangesFile {
    static func write(
        _ rows: [(record: ExportRecord, change: String)],
        path: String,
        runID: String,
        mode: UInt32
    ) throws(SinkError) -> PreparedFile {
        let csv = path.hasSuffix(".csv") || path.hasSuffix(".csv.gz")
        let output = try makeByteOutput(path: path, runID: runID, compressionLevel: 6, mode: mode)
        var buffer: [UInt8] =
            csv ? Array((ExportColumns.names + ["change"]).joined(separator: ",").utf8) + [0x0D, 0x0A] : []
        let encoder: any RecordEncoder = csv ? CSVEncoder(escapeFormulas: false) : NDJSONEncoder()
        for (record, change) in rows {
            encoder.encode(record, into: &buffer)
            // A CSV record ends with CRLF, a JSON line with `}` and LF: put the column before those two bytes.
            buffer.removeLast(2)
            buffer.append(contentsOf: csv ? Array(",\(change)\r\n".utf8) : Array(",\"change\":\"\(change)\"}\n".utf8))
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
