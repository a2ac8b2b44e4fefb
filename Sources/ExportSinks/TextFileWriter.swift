/// One NDJSON or CSV file: records encoded into a buffer, flushed through gzip (for `.gz`) to an
/// ``AtomicFile``.
final class TextFileWriter: FileWriter {
    private let encoder: any RecordEncoder
    private let format: OutputSink.Format
    private var output: (any ByteOutput)?
    private let file: any OutputFile
    private var buffer: [UInt8] = []
    private var rows = 0
    private static let flushThreshold = 1 << 16

    init(
        path: String,
        format: OutputSink.Format,
        encoder: any RecordEncoder,
        runID: String,
        compression: GzipCompression,
        mode: UInt32,
        resume: FileCheckpoint? = nil,
        uploads: UploadOptions = UploadOptions(),
        steps: FileSteps = .direct
    )
        throws(SinkError)
    {
        let output = try makeByteOutput(
            path: path,
            runID: runID,
            compression: compression,
            mode: mode,
            resume: resume,
            uploads: uploads,
            steps: steps
        )
        self.output = output
        self.file = output.file
        self.format = format
        self.encoder = encoder
        self.buffer.reserveCapacity(Self.flushThreshold + 4096)
        if let resume {
            self.rows = resume.rows
        } else {
            self.buffer.append(contentsOf: encoder.header)
        }
    }

    func checkpoint(storing: Bool) throws(SinkError) -> FileCheckpoint {
        try self.flush()
        try self.output?.checkpoint()
        if storing { try self.file.storeTail() }
        var checkpoint = FileCheckpoint(bytes: self.file.bytesWritten, rows: self.rows, finished: false)
        if self.file.isResumable {
            checkpoint.sha256 = self.file.sha256SoFar
        } else {
            checkpoint.pending = true
        }
        checkpoint.note(self.file)
        return checkpoint
    }

    func takeSentPart() -> Bool { self.file.takeSentPart() }

    func write(_ records: RecordRows) throws(SinkError) {
        // The buffer is a local while rows are encoded: a class's property taken `inout` costs a
        // run-time exclusivity check per row.
        var buffer = self.buffer
        self.buffer = []
        defer { self.buffer = buffer }
        try records.withReader { (reader) throws(SinkError) in
            for index in 0..<reader.count {
                self.encoder.encode(row: index, of: reader, into: &buffer)
                if buffer.count >= Self.flushThreshold { try self.flush(&buffer) }
            }
        }
        self.rows += records.count
    }

    func finish() throws(SinkError) {
        guard let output = self.output else { return }
        try self.flush()
        try output.finish()
        // Drop the compressor now: a run with a file per library keeps only the open ones in memory.
        self.output = nil
        self.buffer = []
    }

    func prepareCommit(_ context: CommitContext) throws(SinkError) -> [PreparedFile] {
        try self.finish()
        let summary = SinkSummary(
            path: self.file.finalPath,
            format: self.format.rawValue,
            rows: self.rows,
            bytes: self.file.bytesWritten,
            sha256: self.file.sha256
        )
        return [self.file.prepared(summary)]
    }

    func discard() {
        self.output = nil
        self.file.discard()
    }

    private func flush() throws(SinkError) {
        try self.flush(&self.buffer)
    }

    private func flush(_ buffer: inout [UInt8]) throws(SinkError) {
        guard !buffer.isEmpty, let output = self.output else { return }
        try output.write(buffer[...])
        buffer.removeAll(keepingCapacity: true)
    }
}
