import CZlib

/// A gzip stream (RFC 1952) in front of a file, compressing through zlib as bytes arrive.
final class GzipOutput: ByteOutput {
    let file: AtomicFile
    private let stream: UnsafeMutablePointer<z_stream>
    private var output = [UInt8](repeating: 0, count: 1 << 16)
    private var finished = false
    /// Whether the current gzip member has data not yet closed by a checkpoint.
    private var memberOpen = false
    /// Whether the file already holds a complete member (a checkpoint, or a resumed file).
    private var hasMember: Bool

    /// Starts a stream at `level` (1 fastest … 9 smallest; zlib's default is 6).
    /// A gzip stream in front of `file`; `continuing` when the file already ends with complete members.
    init(file: AtomicFile, level: Int32, continuing: Bool = false) throws(SinkError) {
        self.file = file
        self.hasMember = continuing
        self.stream = .allocate(capacity: 1)
        self.stream.initialize(to: z_stream())
        // windowBits 15 + 16 asks zlib for a gzip header and trailer instead of a zlib wrapper.
        let status = deflateInit2_(
            self.stream,
            level,
            Z_DEFLATED,
            15 + 16,
            8,
            Z_DEFAULT_STRATEGY,
            ZLIB_VERSION,
            Int32(MemoryLayout<z_stream>.size)
        )
        guard status == Z_OK else {
            self.stream.deallocate()
            throw .compression("deflateInit2 returned \(status)")
        }
    }

    deinit {
        deflateEnd(self.stream)
        self.stream.deallocate()
    }

    func write(_ bytes: ArraySlice<UInt8>) throws(SinkError) {
        guard !bytes.isEmpty else { return }
        self.memberOpen = true
        try self.deflate(bytes, flush: Z_NO_FLUSH)
    }

    /// Closes the current gzip member (RFC 1952 allows several in a file; readers concatenate them),
    /// so the file up to here is complete and a resumed run can append the next member.
    func checkpoint() throws(SinkError) {
        guard self.memberOpen else { return }
        try self.deflate([], flush: Z_FINISH)
        guard deflateReset(self.stream) == Z_OK else { throw .compression("deflateReset failed") }
        self.memberOpen = false
        self.hasMember = true
    }

    func finish() throws(SinkError) {
        // An empty file still needs one (empty) member to be valid gzip.
        if !self.finished && (self.memberOpen || !self.hasMember) {
            try self.deflate([], flush: Z_FINISH)
        }
        self.finished = true
        try self.file.finish()
    }

    private func deflate(_ input: ArraySlice<UInt8>, flush: Int32) throws(SinkError) {
        // zlib reads next_in only during the deflate calls below, while `input` is pinned.
        let failure: SinkError? = input.withUnsafeBytes { bytes in
            self.stream.pointee.next_in = UnsafeMutablePointer(
                mutating: bytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
            )
            self.stream.pointee.avail_in = UInt32(bytes.count)
            do throws(SinkError) { try self.drain(flush: flush) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    private func drain(flush: Int32) throws(SinkError) {
        while true {
            let (status, produced) = self.output.withUnsafeMutableBytes { buffer in
                self.stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                self.stream.pointee.avail_out = UInt32(buffer.count)
                let status = CZlib.deflate(self.stream, flush)
                return (status, buffer.count - Int(self.stream.pointee.avail_out))
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw .compression("deflate returned \(status)")
            }
            if produced > 0 { try self.file.write(self.output[..<produced]) }
            let done =
                flush == Z_FINISH
                ? status == Z_STREAM_END : self.stream.pointee.avail_in == 0 && produced < self.output.count
            if done { return }
        }
    }
}
