/// A gzip stream (RFC 1952) in front of a file, compressed as bytes arrive by the configured engine.
final class GzipOutput: ByteOutput {
    let file: any OutputFile
    private let engine: any GzipEngine
    private var finished = false
    /// Whether the current gzip member has data not yet closed by a checkpoint.
    private var memberOpen = false
    /// Whether the file already holds a complete member (a checkpoint, or a resumed file).
    private var hasMember: Bool

    /// A gzip stream in front of `file`; `continuing` when the file already ends with complete members.
    init(file: any OutputFile, compression: GzipCompression, continuing: Bool = false) throws(SinkError) {
        self.file = file
        self.hasMember = continuing
        self.engine = try makeGzipEngine(compression)
    }

    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError) {
        guard !bytes.isEmpty else { return }
        self.memberOpen = true
        try self.compress(bytes, endMember: false)
    }

    /// Closes the current gzip member (RFC 1952 allows several in a file; readers concatenate them),
    /// so the file up to here is complete and a resumed run can append the next member.
    func checkpoint() throws(SinkError) {
        guard self.memberOpen else { return }
        try self.compress([], endMember: true)
        self.memberOpen = false
        self.hasMember = true
    }

    func finish() throws(SinkError) {
        // An empty file still needs one (empty) member to be valid gzip.
        if !self.finished && (self.memberOpen || !self.hasMember) {
            try self.compress([], endMember: true)
        }
        self.finished = true
        try self.file.finish()
    }

    private func compress(_ input: ArraySlice<UInt8>, endMember: Bool) throws(SinkError) {
        let file = self.file
        let engine = self.engine
        let failure: SinkError? = input.withUnsafeBytes { bytes in
            do throws(SinkError) {
                try engine.compress(bytes, endMember: endMember) { compressed throws(SinkError) in
                    try file.write(compressed)
                }
            } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }
}
