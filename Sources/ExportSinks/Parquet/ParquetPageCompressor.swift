import CSnappy
import CZstd

/// Compresses Parquet pages with the file's codec; one per writer (it keeps the codec's state).
final class ParquetPageCompressor {
    let codec: ParquetCodec
    private let zstdContext: OpaquePointer?
    private let gzipEngine: (any GzipEngine)?
    /// Where zstd and snappy compress to, reused page after page.
    private var scratch: [UInt8] = []

    init(codec: ParquetCodec) throws(SinkError) {
        self.codec = codec
        switch codec {
        case .zstd:
            guard let context = ZSTD_createCCtx() else { throw SinkError.compression("zstd could not start") }
            self.zstdContext = context
            self.gzipEngine = nil
        case .gzip(let compression):
            self.zstdContext = nil
            self.gzipEngine = try makeGzipEngine(compression)
        case .none, .snappy:
            self.zstdContext = nil
            self.gzipEngine = nil
        }
    }

    deinit { if let context = self.zstdContext { ZSTD_freeCCtx(context) } }

    /// `input`, compressed as the codec says: what Parquet's codecs mean (a zstd frame, snappy's raw
    /// block format without framing, one gzip member).
    func compress(_ input: [UInt8]) throws(SinkError) -> [UInt8] {
        switch self.codec {
        case .none:
            return input
        case .zstd(let level):
            return try self.fill(capacity: ZSTD_compressBound(input.count)) { destination throws(SinkError) in
                let written = input.withUnsafeBytes { source in
                    ZSTD_compressCCtx(
                        self.zstdContext,
                        destination.baseAddress,
                        destination.count,
                        source.baseAddress,
                        source.count,
                        level
                    )
                }
                if ZSTD_isError(written) != 0 {
                    throw SinkError.compression("zstd: \(String(cString: ZSTD_getErrorName(written)))")
                }
                return written
            }
        case .snappy:
            return try self.fill(capacity: snappy_max_compressed_length(input.count)) {
                destination throws(SinkError) in
                var written = destination.count
                let status = input.withUnsafeBytes { source in
                    snappy_compress(
                        source.baseAddress?.assumingMemoryBound(to: CChar.self),
                        source.count,
                        destination.baseAddress?.assumingMemoryBound(to: CChar.self),
                        &written
                    )
                }
                guard status == SNAPPY_OK else { throw SinkError.compression("snappy returned \(status.rawValue)") }
                return written
            }
        case .gzip:
            var output: [UInt8] = []
            output.reserveCapacity(input.count / 2)
            let result = input.withUnsafeBytes { source in
                Result { () throws(SinkError) in
                    try self.gzipEngine!.compress(source, endMember: true) { output.append(contentsOf: $0) }
                }
            }
            try result.get()
            return output
        }
    }

    /// What `body` writes into the scratch buffer (made `capacity` bytes at least), copied out at
    /// the length it returns: a page keeps its compressed size, not the bound it was compressed into.
    private func fill(
        capacity: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws(SinkError) -> Int
    ) throws(SinkError) -> [UInt8] {
        if self.scratch.count < capacity { self.scratch = [UInt8](repeating: 0, count: capacity) }
        let written = self.scratch.withUnsafeMutableBytes { destination in
            Result { () throws(SinkError) in try body(destination) }
        }
        return Array(self.scratch[..<(try written.get())])
    }
}
