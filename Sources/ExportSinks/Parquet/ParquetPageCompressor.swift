import CZstd

/// Compresses Parquet pages with the file's codec; one per writer (it keeps zstd's context).
final class ParquetPageCompressor {
    let codec: ParquetCodec
    private let context: OpaquePointer?

    init(codec: ParquetCodec) {
        self.codec = codec
        switch codec {
        case .none: self.context = nil
        case .zstd: self.context = ZSTD_createCCtx()
        }
    }

    deinit { if let context = self.context { ZSTD_freeCCtx(context) } }

    /// `input`, compressed as the codec says (a zstd frame: what Parquet's `ZSTD` means).
    func compress(_ input: [UInt8]) throws(SinkError) -> [UInt8] {
        switch self.codec {
        case .none:
            return input
        case .zstd(let level):
            guard let context = self.context else { throw SinkError.compression("zstd could not start") }
            var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
            let written = output.withUnsafeMutableBytes { destination in
                input.withUnsafeBytes { source in
                    ZSTD_compressCCtx(
                        context,
                        destination.baseAddress,
                        destination.count,
                        source.baseAddress,
                        source.count,
                        level
                    )
                }
            }
            if ZSTD_isError(written) != 0 {
                throw SinkError.compression("zstd: \(String(cString: ZSTD_getErrorName(written)))")
            }
            output.removeSubrange(written...)
            return output
        }
    }
}
