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

    /// A page: `header(n)`, then `input` compressed to `n` bytes as the codec says (a zstd frame,
    /// snappy's raw block format without framing, one gzip member), in one array made once.
    func page(
        _ input: UnsafeRawBufferPointer,
        header: (_ compressedSize: Int) -> [UInt8]
    ) throws(SinkError) -> [UInt8] {
        switch self.codec {
        case .none:
            return Self.joined(header(input.count), input)
        case .zstd(let level):
            return try self.fill(capacity: ZSTD_compressBound(input.count), header: header) {
                destination throws(SinkError) in
                let written = ZSTD_compressCCtx(
                    self.zstdContext,
                    destination.baseAddress,
                    destination.count,
                    input.baseAddress,
                    input.count,
                    level
                )
                if ZSTD_isError(written) != 0 {
                    throw SinkError.compression("zstd: \(String(cString: ZSTD_getErrorName(written)))")
                }
                return written
            }
        case .snappy:
            return try self.fill(capacity: snappy_max_compressed_length(input.count), header: header) {
                destination throws(SinkError) in
                var written = destination.count
                let status = snappy_compress(
                    input.baseAddress?.assumingMemoryBound(to: CChar.self),
                    input.count,
                    destination.baseAddress?.assumingMemoryBound(to: CChar.self),
                    &written
                )
                guard status == SNAPPY_OK else { throw SinkError.compression("snappy returned \(status.rawValue)") }
                return written
            }
        case .gzip:
            var output: [UInt8] = []
            output.reserveCapacity(input.count / 2)
            try self.gzipEngine!.compress(input, endMember: true) { output.append(contentsOf: $0) }
            return output.withUnsafeBytes { Self.joined(header(output.count), $0) }
        }
    }

    /// ``page(_:header:)`` of the first `count` bytes of `input` (all of them when nil).
    func page(
        _ input: [UInt8],
        count: Int? = nil,
        header: (_ compressedSize: Int) -> [UInt8]
    ) throws(SinkError) -> [UInt8] {
        let made = input.withUnsafeBytes { bytes in
            Result { () throws(SinkError) in
                try self.page(UnsafeRawBufferPointer(rebasing: bytes[..<(count ?? bytes.count)]), header: header)
            }
        }
        return try made.get()
    }

    private static func joined(_ header: [UInt8], _ body: UnsafeRawBufferPointer) -> [UInt8] {
        var page: [UInt8] = []
        page.reserveCapacity(header.count + body.count)
        page += header
        page += body
        return page
    }

    /// The page of what `body` writes into the scratch buffer (made `capacity` bytes at least), at
    /// the length it returns, after its header: a page keeps its compressed size, not the bound.
    private func fill(
        capacity: Int,
        header: (Int) -> [UInt8],
        _ body: (UnsafeMutableRawBufferPointer) throws(SinkError) -> Int
    ) throws(SinkError) -> [UInt8] {
        if self.scratch.count < capacity { self.scratch = [UInt8](repeating: 0, count: capacity) }
        let written = self.scratch.withUnsafeMutableBytes { destination in
            Result { () throws(SinkError) in try body(destination) }
        }
        let count = try written.get()
        return self.scratch.withUnsafeBytes {
            Self.joined(header(count), UnsafeRawBufferPointer(rebasing: $0[..<count]))
        }
    }
}
